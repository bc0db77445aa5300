package logger

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// follow reads cur (through sc, which is reading it) as it grows, and the
// files that replace it at the log's path as the writer rotates.
//
// It polls: every r.poll it reads on from where it stopped and compares the
// path's inode with cur's. The writer is another process, so there is no
// in-process signal to wait on; inotify would save the wakeups but not the
// rotation checks, and a poll costs a read and a stat.
func (r *reader) follow(ctx context.Context, cur *logFile, sc *scanner) error {
	defer func() { cur.Close() }()
	tick := time.NewTicker(r.poll)
	defer tick.Stop()
	if r.following != nil {
		r.following()
	}
	for {
		// Looked at before reading, so that a writer finished now has
		// written all it will by the time the read below ends.
		finished := isClosed(r.opts.Done) || (!r.opts.Until.IsZero() && time.Now().After(r.opts.Until))
		if err := r.drain(ctx, sc, 0); err != nil {
			return err
		}
		next, err := r.rotated(ctx, cur, sc)
		if err != nil {
			return err
		}
		if next != nil {
			cur.Close()
			cur = next
			sc.reset(cur.f, cur.name)
			continue
		}
		if finished {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.opts.Done:
		case <-tick.C:
		}
	}
}

// rotated checks whether the log's path still names cur. When it does not,
// the writer is done with cur: it reads what the writer added to it since
// the last read, and any files rotated after it, and returns the file now
// at the path. It returns nil when cur is still current (or the path is
// gone: the container is being removed).
func (r *reader) rotated(ctx context.Context, cur *logFile, sc *scanner) (*logFile, error) {
	st, err := os.Stat(r.path)
	if err != nil || os.SameFile(st, cur.info) {
		return nil, nil
	}
	if err := r.drain(ctx, sc, 0); err != nil {
		return nil, err
	}
	files, err := openAfter(r.path, cur.info, r.last)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for i, lf := range files[:len(files)-1] {
		err := r.readWhole(ctx, sc, lf)
		lf.Close()
		if err != nil {
			closeAll(files[i+1:])
			return nil, err
		}
	}
	return files[len(files)-1], nil
}

// readWhole passes on all records of a rotated file.
func (r *reader) readWhole(ctx context.Context, sc *scanner, lf *logFile) error {
	rd, err := lf.reader()
	if err != nil {
		return err
	}
	sc.reset(rd, lf.name)
	return r.drain(ctx, sc, 0)
}

func isClosed(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}
