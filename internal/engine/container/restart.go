package container

import (
	"context"
	"time"

	"github.com/moby/moby/api/types/container"
)

// Docker's restart back-off: 100 ms before the first restart, doubling up
// to a minute, back to 100 ms once a run lasted 10 s.
const (
	restartFirstDelay = 100 * time.Millisecond
	restartMaxDelay   = time.Minute
	restartResetAfter = 10 * time.Second
)

// RestartOnUnhealthy is gantry's policy beyond Docker's: the container is
// restarted when its health check finds it unhealthy (exits alone do not
// restart it).
const RestartOnUnhealthy container.RestartPolicyMode = "on-unhealthy"

// restartState is a container's restart manager: the back-off and the
// pending restart. Guarded by the entry's mu.
type restartState struct {
	delay time.Duration
	timer *time.Timer
	// startAt is when the back-off ends: the container is prepared
	// (mounted, created by its shim) during the last prepareLead before
	// it, and its process started at startAt.
	startAt time.Time
}

// prepareLead is how long before the end of a back-off the container is
// prepared, so that the restart happens when the back-off ends rather
// than a creation later. e.mu is held meanwhile, so it is kept short.
const prepareLead = 100 * time.Millisecond

// shouldRestart is Docker's rule. manual is a stop or kill by the user;
// atBoot is the daemon starting, when `always` containers come back even
// after a manual stop (unless-stopped ones do not).
func shouldRestart(rec *Record, exitCode int, manual, atBoot bool) bool {
	p := rec.HostConfig.RestartPolicy
	switch p.Name {
	case container.RestartPolicyAlways:
		return atBoot || !manual
	case container.RestartPolicyUnlessStopped:
		return !manual
	case container.RestartPolicyOnFailure:
		return !manual && exitCode != 0 && (p.MaximumRetryCount == 0 || rec.RestartCount < p.MaximumRetryCount)
	}
	return false
}

// restartAfterExit applies the restart policy to an exit just recorded:
// when it says so, the container turns "restarting" and starts again after
// the back-off. The caller holds e.mu.
func (s *Service) restartAfterExit(e *entry, ran time.Duration) {
	rec := &e.rec
	if s.ctx.Err() != nil || !shouldRestart(rec, rec.State.ExitCode, rec.ManualStop, false) {
		e.restart.delay = 0
		return
	}
	rs := &e.restart
	switch {
	case ran >= restartResetAfter || rs.delay == 0:
		rs.delay = restartFirstDelay
	default:
		rs.delay = min(rs.delay*2, restartMaxDelay)
	}
	rec.State.Status = container.StateRestarting
	if err := s.persist(e); err != nil {
		s.log.Warn("recording a restart", "id", rec.ID, "err", err)
	}
	rs.startAt = rec.State.FinishedAt.Add(rs.delay)
	rs.timer = time.AfterFunc(time.Until(rs.startAt.Add(-prepareLead)), func() { s.restartNow(e) })
}

// awaitRestartDelay holds a restart's start, the container prepared, until
// its back-off ends. The caller holds e.mu.
func (s *Service) awaitRestartDelay(e *entry) {
	at := e.restart.startAt
	e.restart.startAt = time.Time{}
	if wait := time.Until(at); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.ctx.Done():
		}
	}
}

// restartNow starts a container whose back-off is over, unless the
// restart was cancelled meanwhile.
func (s *Service) restartNow(e *entry) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.restart.timer = nil
	if s.ctx.Err() != nil || e.rec.State.Status != container.StateRestarting {
		e.restart.startAt = time.Time{}
		return
	}
	s.autoStartLocked(e, true)
}

// autoStartLocked starts a container on its policy's behalf, counting a
// restart after an exit (not a start when the daemon starts, as Docker);
// the caller holds e.mu.
func (s *Service) autoStartLocked(e *entry, count bool) {
	rec := &e.rec
	if count {
		rec.RestartCount++
	}
	exited := rec.State.FinishedAt
	if err := s.startLocked(s.ctx, e); err != nil && err != ErrNotModified {
		s.log.Warn("restarting a container", "id", rec.ID, "err", err)
		// As Docker: a restart that fails leaves the container stopped.
		rec.State.Status = container.StateExited
		if rec.State.FinishedAt.IsZero() {
			rec.State.FinishedAt = time.Now().UTC()
		}
		_ = s.persist(e)
		return
	}
	s.log.Debug("restarted", "id", rec.ID, "count", rec.RestartCount, "since exit", rec.State.StartedAt.Sub(exited))
	s.publish("restart", rec, nil)
}

// cancelRestart drops a pending restart (a stop, kill or removal by the
// user); it tells whether there was one. The caller holds e.mu.
func (s *Service) cancelRestart(e *entry) bool {
	if e.rec.State.Status != container.StateRestarting {
		return false
	}
	if e.restart.timer != nil {
		e.restart.timer.Stop()
		e.restart.timer = nil
	}
	e.restart.startAt = time.Time{}
	e.restart.delay = 0
	e.rec.State.Status = container.StateExited
	e.rec.ManualStop = true
	_ = s.persist(e)
	return true
}

// restartAtBoot starts, once the daemon is up, the containers whose policy
// brings them back: those that were running or restarting when it went
// down and exited meanwhile, and `always` and `unless-stopped` ones that
// had been started before, as Docker does.
func (s *Service) restartAtBoot(ctx context.Context) {
	for _, e := range s.all() {
		e.mu.Lock()
		rec := &e.rec
		if !rec.State.Running() && !rec.State.StartedAt.IsZero() && rec.State.Status != container.StateRemoving &&
			rec.State.Status != container.StateDead && shouldRestart(rec, rec.State.ExitCode, rec.ManualStop, true) {
			go func() {
				e.mu.Lock()
				defer e.mu.Unlock()
				if !e.rec.State.Running() && ctx.Err() == nil {
					s.autoStartLocked(e, false)
				}
			}()
		}
		e.mu.Unlock()
	}
}
