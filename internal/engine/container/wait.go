package container

import (
	"context"

	"github.com/moby/moby/api/types/container"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// WaitResult is what a wait reports.
type WaitResult struct {
	ExitCode int
	Err      error
}

// Wait returns a channel that receives the result when the condition is
// met: "not-running" (the default), "next-exit" or "removed". The wait is
// registered when Wait returns.
func (s *Service) Wait(ctx context.Context, ref string, condition container.WaitCondition) (<-chan WaitResult, error) {
	e, err := s.lookup(ref)
	if err != nil {
		return nil, err
	}
	switch condition {
	case "", container.WaitConditionNotRunning, container.WaitConditionNextExit, container.WaitConditionRemoved:
	default:
		return nil, errdefs.Invalid("invalid condition: %q", condition)
	}
	e.mu.Lock()
	exited, removed := e.exited, e.removed
	running := e.rec.State.Running()
	code := e.rec.State.ExitCode
	e.mu.Unlock()
	out := make(chan WaitResult, 1)
	exitCode := func() int {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.rec.State.ExitCode
	}
	go func() {
		var until <-chan struct{}
		switch {
		case condition == container.WaitConditionRemoved:
			until = removed
		case condition == container.WaitConditionNextExit || running:
			until = exited
		default: // not running already
			out <- WaitResult{ExitCode: code}
			return
		}
		select {
		case <-until:
		case <-removed:
		case <-ctx.Done():
			out <- WaitResult{Err: ctx.Err()}
			return
		}
		out <- WaitResult{ExitCode: exitCode()}
	}()
	return out, nil
}
