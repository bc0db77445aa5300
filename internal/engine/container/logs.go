package container

import (
	"context"
	"time"

	"github.com/gantry-dev/gantry/internal/logger"
)

// LogsOptions are GET /containers/{id}/logs's parameters.
type LogsOptions struct {
	Stdout, Stderr bool
	Since, Until   time.Time
	Tail           int // -1 for all
	Follow         bool
}

// Logs calls fn for each log message of the container, following while
// it runs when asked. tty tells the caller to write raw bytes rather than
// frames.
func (s *Service) Logs(ctx context.Context, ref string, opts LogsOptions, fn func(logger.Message) error) (tty bool, err error) {
	e, err := s.lookup(ref)
	if err != nil {
		return false, err
	}
	e.mu.Lock()
	rec := e.rec
	running := rec.State.Running()
	exited := e.exited
	e.mu.Unlock()
	cfg := logConfig(&rec)
	done := make(chan struct{})
	if !opts.Follow || !running {
		close(done)
	} else {
		go func() {
			select {
			case <-exited:
			case <-e.removed:
			case <-ctx.Done():
			}
			close(done)
		}()
	}
	path := logger.Path(s.containerDir(rec.ID), rec.ID, cfg)
	err = logger.Read(ctx, path, cfg, logger.ReadOptions{
		Since: opts.Since, Until: opts.Until, Tail: opts.Tail, Follow: opts.Follow && running, Done: done,
	}, func(m logger.Message) error {
		if (m.Stream == "stdout" && !opts.Stdout) || (m.Stream == "stderr" && !opts.Stderr) {
			return nil
		}
		return fn(m)
	})
	return rec.Config.Tty, err
}
