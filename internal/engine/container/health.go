package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/shim"
)

// Docker's health check defaults and bounds.
const (
	healthDefaultInterval      = 30 * time.Second
	healthDefaultTimeout       = 30 * time.Second
	healthDefaultStartInterval = 5 * time.Second
	healthDefaultRetries       = 3
	healthMaxLog               = 5    // results kept in State.Health.Log
	healthMaxOutput            = 4096 // bytes of a probe's output kept
)

// mergeHealthcheck is Docker's merge of the image's HEALTHCHECK under the
// user's: no user setting takes the image's; unset fields come from it.
func mergeHealthcheck(user *container.HealthConfig, img *imageConfig) *container.HealthConfig {
	ih := img.Healthcheck
	if ih == nil {
		return user
	}
	if user == nil {
		return &container.HealthConfig{
			Test: ih.Test, Interval: ih.Interval, Timeout: ih.Timeout,
			StartPeriod: ih.StartPeriod, StartInterval: ih.StartInterval, Retries: ih.Retries,
		}
	}
	h := *user
	if len(h.Test) == 0 {
		h.Test = ih.Test
	}
	if h.Interval == 0 {
		h.Interval = ih.Interval
	}
	if h.Timeout == 0 {
		h.Timeout = ih.Timeout
	}
	if h.StartPeriod == 0 {
		h.StartPeriod = ih.StartPeriod
	}
	if h.StartInterval == 0 {
		h.StartInterval = ih.StartInterval
	}
	if h.Retries == 0 {
		h.Retries = ih.Retries
	}
	return &h
}

// checkHealth refuses, as dockerd does, durations below a millisecond and
// negative retries; and an on-unhealthy policy without a check to act on.
func checkHealth(cfg *container.Config, hc *container.HostConfig) error {
	if h := cfg.Healthcheck; h != nil {
		for _, d := range []struct {
			name string
			v    time.Duration
		}{{"Interval", h.Interval}, {"Timeout", h.Timeout}, {"StartPeriod", h.StartPeriod}, {"StartInterval", h.StartInterval}} {
			if d.v != 0 && d.v < container.MinimumDuration {
				return errdefs.Invalid("%s in Healthcheck cannot be less than %s", d.name, container.MinimumDuration)
			}
		}
		if h.Retries < 0 {
			return errdefs.Invalid("Retries in Healthcheck cannot be negative")
		}
	}
	if hc.RestartPolicy.Name == RestartOnUnhealthy && probeCommand(cfg.Healthcheck) == nil {
		return errdefs.Invalid("--restart on-unhealthy needs a health check: the image has no HEALTHCHECK and no --health-cmd was given")
	}
	return nil
}

// probeCommand is the command a check runs, nil for none ("NONE", or no
// test at all).
func probeCommand(h *container.HealthConfig) []string {
	if h == nil || len(h.Test) == 0 {
		return nil
	}
	switch h.Test[0] {
	case "CMD":
		if len(h.Test) > 1 {
			return h.Test[1:]
		}
	case "CMD-SHELL":
		if len(h.Test) > 1 {
			return []string{"/bin/sh", "-c", strings.Join(h.Test[1:], " ")}
		}
	}
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// watchHealth runs a running container's health check until the returned
// function is called (the container exited, or the daemon stops). A
// container just started is "starting"; one found again after a daemon
// restart keeps its state.
func (s *Service) watchHealth(e *entry) (stop func()) {
	e.mu.Lock()
	cfg := e.rec.Config.Healthcheck
	argv := probeCommand(cfg)
	if argv == nil || !e.rec.State.Running() {
		e.mu.Unlock()
		return func() {}
	}
	if e.rec.State.Health == nil {
		e.rec.State.Health = &container.Health{Status: container.Starting}
	}
	startedAt := e.rec.State.StartedAt
	e.mu.Unlock()

	ctx, cancel := context.WithCancel(s.ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		interval := orDefault(cfg.Interval, healthDefaultInterval)
		startInterval := orDefault(cfg.StartInterval, healthDefaultStartInterval)
		next := func() time.Duration {
			e.mu.Lock()
			starting := e.rec.State.Health != nil && e.rec.State.Health.Status == container.Starting
			e.mu.Unlock()
			if starting && cfg.StartPeriod > 0 && time.Since(startedAt) < cfg.StartPeriod {
				return startInterval
			}
			return interval
		}
		t := time.NewTimer(next())
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			res := s.probe(ctx, e, argv, orDefault(cfg.Timeout, healthDefaultTimeout))
			if ctx.Err() != nil {
				return // the container exited meanwhile: no verdict
			}
			s.recordProbe(e, cfg, res)
			t.Reset(next())
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

// probe runs the check once as an exec in the container.
func (s *Service) probe(ctx context.Context, e *entry, argv []string, timeout time.Duration) *container.HealthcheckResult {
	res := &container.HealthcheckResult{Start: time.Now().UTC(), ExitCode: -1}
	defer func() { res.End = time.Now().UTC() }()
	e.mu.Lock()
	if e.rec.State.Status != container.StateRunning {
		e.mu.Unlock()
		res.Output = "container is not running"
		return res
	}
	proc, err := s.execProcess(&e.rec, &container.ExecCreateRequest{Cmd: argv})
	id := e.rec.ID
	e.mu.Unlock()
	if err != nil {
		res.Output = err.Error()
		return res
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	execID := "health-" + hex.EncodeToString(b[:])
	client := shim.NewClient(s.socketPath(id))
	stream, pid, err := client.Exec(ctx, shim.Request{ExecID: execID, Process: proc})
	if err != nil {
		res.Output = dockerStartError(err).Error()
		return res
	}
	defer stream.Close()
	out := &cappedBuffer{max: healthMaxOutput}
	done := make(chan struct{})
	var code int
	go func() {
		defer close(done)
		_, _ = stdcopy.StdCopy(out, out, stream)
		exit, err := client.ExecWait(context.Background(), execID)
		code = exit.ExitCode
		if err != nil {
			code = -1
		}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-done:
		res.ExitCode, res.Output = code, out.String()
	case <-timer.C:
		// As Docker: the probe is killed and counts as a failure.
		_ = unix.Kill(pid, unix.SIGKILL)
		stream.Close()
		res.Output = fmt.Sprintf("Health check exceeded timeout (%v)", timeout)
	case <-ctx.Done():
		_ = unix.Kill(pid, unix.SIGKILL)
		stream.Close()
	}
	return res
}

// recordProbe is Docker's handling of a result: a success makes the
// container healthy; failures count, outside the start period, until
// retries make it unhealthy. A change of status is an event.
func (s *Service) recordProbe(e *entry, cfg *container.HealthConfig, res *container.HealthcheckResult) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rec.State.Health == nil || e.rec.State.Status != container.StateRunning {
		return
	}
	// A new value each time: inspect and ps read the old one unlocked.
	h := &container.Health{Status: e.rec.State.Health.Status, FailingStreak: e.rec.State.Health.FailingStreak}
	h.Log = append(slices.Clone(e.rec.State.Health.Log), res)
	e.rec.State.Health = h
	old := h.Status
	if len(h.Log) > healthMaxLog {
		h.Log = h.Log[len(h.Log)-healthMaxLog:]
	}
	retries := cfg.Retries
	if retries == 0 {
		retries = healthDefaultRetries
	}
	if res.ExitCode == 0 {
		h.FailingStreak = 0
		h.Status = container.Healthy
	} else if !(h.Status == container.Starting && res.Start.Sub(e.rec.State.StartedAt) < cfg.StartPeriod) {
		h.FailingStreak++
		if h.FailingStreak >= retries {
			h.Status = container.Unhealthy
		}
	}
	_ = s.persist(e)
	if h.Status != old {
		s.publish(eventAction("health_status: "+string(h.Status)), &e.rec, nil)
		if h.Status == container.Unhealthy && e.rec.HostConfig.RestartPolicy.Name == RestartOnUnhealthy {
			go s.restartUnhealthy(e.rec.ID)
		}
	}
}

// restartUnhealthy is the on-unhealthy policy: stop (with the stop
// signal and grace period) and start again.
func (s *Service) restartUnhealthy(id string) {
	if err := s.Restart(s.ctx, id, "", nil); err != nil {
		s.log.Warn("restarting an unhealthy container", "id", id, "err", err)
		return
	}
	if e, err := s.lookup(id); err == nil {
		e.mu.Lock()
		e.rec.RestartCount++
		_ = s.persist(e)
		e.mu.Unlock()
	}
}

// healthSuffix is what ps adds to "Up …": " (healthy)", " (unhealthy)",
// " (health: starting)".
func healthSuffix(h *container.Health) string {
	if h == nil || h.Status == "" || h.Status == container.NoHealthcheck {
		return ""
	}
	if h.Status == container.Starting {
		return " (health: starting)"
	}
	return " (" + string(h.Status) + ")"
}

// cappedBuffer keeps the first max bytes written to it.
type cappedBuffer struct {
	mu  sync.Mutex
	max int
	b   strings.Builder
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.b.Len(); room > 0 {
		if len(p) > room {
			c.b.Write(p[:room])
		} else {
			c.b.Write(p)
		}
	}
	return len(p), nil
}

func (c *cappedBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}

var _ io.Writer = (*cappedBuffer)(nil)
