package container

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// defaultStopTimeout is Docker's grace period before SIGKILL.
const defaultStopTimeout = 10

// ParseSignal reads "SIGTERM", "TERM", "term" or "15".
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, errdefs.Invalid("invalid signal: %s", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, errdefs.Invalid("invalid signal: %s", s)
	}
	return sig, nil
}

// Stop sends the stop signal, waits up to timeout seconds (nil: the
// container's or Docker's 10; -1: for ever) and then kills.
func (s *Service) Stop(ctx context.Context, ref, signal string, timeout *int) error {
	e, err := s.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if s.cancelRestart(e) {
		e.mu.Unlock()
		s.publish("stop", &e.rec, nil)
		return nil
	}
	if !e.rec.State.Running() {
		e.mu.Unlock()
		return ErrNotModified
	}
	e.rec.ManualStop = true
	_ = s.persist(e)
	sigName := signal
	if sigName == "" {
		sigName = e.rec.Config.StopSignal
	}
	if sigName == "" {
		sigName = "SIGTERM"
	}
	wait := defaultStopTimeout
	if e.rec.Config.StopTimeout != nil {
		wait = *e.rec.Config.StopTimeout
	}
	if timeout != nil {
		wait = *timeout
	}
	exited := e.exited
	paused := e.rec.State.Status == container.StatePaused
	id := e.rec.ID
	e.mu.Unlock()
	sig, err := ParseSignal(sigName)
	if err != nil {
		return err
	}
	s.publish("kill", &e.rec, map[string]string{"signal": strconv.Itoa(int(sig))})
	if err := s.signal(ctx, id, sig, false); err != nil && !isGone(err) {
		return err
	}
	if paused {
		// A frozen process cannot act on the signal.
		_ = s.rt.Resume(ctx, id)
	}
	var timer <-chan time.Time
	if wait >= 0 {
		timer = time.After(time.Duration(wait) * time.Second)
	}
	select {
	case <-exited:
	case <-timer:
		s.publish("kill", &e.rec, map[string]string{"signal": "9"})
		if err := s.signal(ctx, id, unix.SIGKILL, true); err != nil && !isGone(err) {
			return err
		}
		select {
		case <-exited:
		case <-ctx.Done():
			return ctx.Err()
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	s.publish("stop", &e.rec, nil)
	return nil
}

func isGone(err error) bool {
	return errdefsIs(err, errdefs.ErrNotFound) || errdefsIs(err, errdefs.ErrConflict)
}

// Kill sends a signal (default SIGKILL).
func (s *Service) Kill(ctx context.Context, ref, signal string) error {
	e, err := s.lookup(ref)
	if err != nil {
		return err
	}
	if signal == "" {
		signal = "SIGKILL"
	}
	sig, err := ParseSignal(signal)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if !e.rec.State.Running() {
		e.mu.Unlock()
		return errdefs.Conflict("cannot kill container: %s: container %s is not running", ref, e.rec.ID)
	}
	if sig == unix.SIGKILL || sig == unix.SIGTERM || sig == unix.SIGINT {
		e.rec.ManualStop = true
		_ = s.persist(e)
	}
	id := e.rec.ID
	exited := e.exited
	e.mu.Unlock()
	s.publish("kill", &e.rec, map[string]string{"signal": strconv.Itoa(int(sig))})
	if err := s.signal(ctx, id, sig, sig == unix.SIGKILL); err != nil {
		return err
	}
	if sig == unix.SIGKILL {
		// As Docker: a kill with SIGKILL answers once the container is
		// down, so the next command sees it exited.
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		case <-ctx.Done():
		}
	}
	return nil
}

// Restart stops (if running) and starts.
func (s *Service) Restart(ctx context.Context, ref, signal string, timeout *int) error {
	if err := s.Stop(ctx, ref, signal, timeout); err != nil && err != ErrNotModified {
		return err
	}
	e, err := s.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := s.startLocked(ctx, e); err != nil && err != ErrNotModified {
		return err
	}
	e.rec.ManualStop = false
	s.publish("restart", &e.rec, nil)
	return nil
}

// Pause freezes the container's processes.
func (s *Service) Pause(ctx context.Context, ref string) error {
	e, err := s.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.rec.State.Status {
	case container.StatePaused:
		return errdefs.Conflict("container %s is already paused", e.rec.ID)
	case container.StateRunning:
	default:
		return errdefs.Conflict("container %s is not running", e.rec.ID)
	}
	if err := s.rt.Pause(ctx, e.rec.ID); err != nil {
		return err
	}
	e.rec.State.Status = container.StatePaused
	_ = s.persist(e)
	s.publish("pause", &e.rec, nil)
	return nil
}

// Unpause thaws a paused container.
func (s *Service) Unpause(ctx context.Context, ref string) error {
	e, err := s.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rec.State.Status != container.StatePaused {
		return errdefs.Conflict("container %s is not paused", e.rec.ID)
	}
	if err := s.rt.Resume(ctx, e.rec.ID); err != nil {
		return err
	}
	e.rec.State.Status = container.StateRunning
	_ = s.persist(e)
	s.publish("unpause", &e.rec, nil)
	return nil
}
