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

// Attachment is an attach in place: connected to a running container's
// stdio, or waiting for the next start, which connects it before the
// process runs.
type Attachment struct {
	Tty    bool
	result chan attachResult
	cancel func()
	gone   <-chan struct{}
	ref    string
}

// Attach puts an attach in place and returns at once: a start that follows
// (the docker CLI starts once the attach has answered) is already bound
// to connect it. Stream then gives its stdio: Docker's multiplexed frames,
// or raw bytes when Tty.
func (s *Service) Attach(ctx context.Context, ref string, stdin, stdout, stderr bool) (*Attachment, error) {
	e, err := s.lookup(ref)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := &Attachment{Tty: e.rec.Config.Tty, result: make(chan attachResult, 1), gone: e.removed, ref: ref, cancel: func() {}}
	stdin = stdin && e.rec.Config.OpenStdin
	if e.rec.State.Running() {
		st, err := shim.NewClient(s.socketPath(e.rec.ID)).Attach(ctx, stdin, stdout, stderr)
		if err != nil {
			return nil, err
		}
		a.result <- attachResult{stream: st}
		return a, nil
	}
	w := &attachWait{stdin: stdin, stdout: stdout, stderr: stderr, result: a.result}
	e.pending = append(e.pending, w)
	a.cancel = func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		for i, p := range e.pending {
			if p == w {
				e.pending = append(e.pending[:i], e.pending[i+1:]...)
				break
			}
		}
	}
	return a, nil
}

// Stream waits for the attach's stdio.
func (a *Attachment) Stream(ctx context.Context) (*shim.Stream, error) {
	select {
	case r := <-a.result:
		return r.stream, r.err
	case <-ctx.Done():
		a.Close()
		return nil, ctx.Err()
	case <-a.gone:
		a.Close()
		return nil, errdefs.NotFound("No such container: %s", a.ref)
	}
}

// Close gives up an attach that was not streamed.
func (a *Attachment) Close() {
	a.cancel()
	select {
	case r := <-a.result:
		if r.stream != nil {
			r.stream.Close()
		}
	default:
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
