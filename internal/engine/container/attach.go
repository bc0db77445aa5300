package container

import (
	"context"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/shim"
)

// attachWait is an attach made before the container runs: it is connected
// by the next start, before the process is let go.
type attachWait struct {
	stdin, stdout, stderr bool
	result                chan attachResult
}

type attachResult struct {
	stream *shim.Stream
	err    error
}

// Attach connects to a container's stdio. The stream carries Docker's
// multiplexed frames, or raw bytes when tty is true.
func (s *Service) Attach(ctx context.Context, ref string, stdin, stdout, stderr bool) (stream *shim.Stream, tty bool, err error) {
	e, err := s.lookup(ref)
	if err != nil {
		return nil, false, err
	}
	e.mu.Lock()
	tty = e.rec.Config.Tty
	if e.rec.State.Running() {
		id := e.rec.ID
		e.mu.Unlock()
		st, err := shim.NewClient(s.socketPath(id)).Attach(ctx, stdin && e.rec.Config.OpenStdin, stdout, stderr)
		return st, tty, err
	}
	w := &attachWait{stdin: stdin && e.rec.Config.OpenStdin, stdout: stdout, stderr: stderr, result: make(chan attachResult, 1)}
	e.pending = append(e.pending, w)
	e.mu.Unlock()
	select {
	case r := <-w.result:
		return r.stream, tty, r.err
	case <-ctx.Done():
		e.mu.Lock()
		for i, p := range e.pending {
			if p == w {
				e.pending = append(e.pending[:i], e.pending[i+1:]...)
				break
			}
		}
		e.mu.Unlock()
		select {
		case r := <-w.result:
			if r.stream != nil {
				r.stream.Close()
			}
		default:
		}
		return nil, tty, ctx.Err()
	case <-e.removed:
		return nil, tty, errdefs.NotFound("No such container: %s", ref)
	}
}

// connectAttachers hands waiting attaches their streams; e.mu is held.
func (s *Service) connectAttachers(e *entry, c *shim.Client) {
	for _, w := range e.pending {
		st, err := c.Attach(context.Background(), w.stdin, w.stdout, w.stderr)
		w.result <- attachResult{stream: st, err: err}
	}
	e.pending = nil
}

// attachFailed tells waiting attaches the start failed; e.mu is held.
func (s *Service) attachFailed(e *entry, err error) {
	for _, w := range e.pending {
		w.result <- attachResult{err: err}
	}
	e.pending = nil
}

// Resize changes the size of the container's terminal.
func (s *Service) Resize(ctx context.Context, ref string, height, width uint16) error {
	e, err := s.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	running, id := e.rec.State.Running(), e.rec.ID
	e.mu.Unlock()
	if !running {
		return errdefs.Conflict("Container %s is not running", id)
	}
	return shim.NewClient(s.socketPath(id)).Resize(ctx, "", width, height)
}
