package logger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// ReadOptions says which records Read returns.
type ReadOptions struct {
	// Since and Until bound the records' times as dockerd does: records
	// before Since are skipped, reading stops at the first record after
	// Until (so Until is inclusive). Zero means unbounded.
	Since, Until time.Time
	// Tail: -1 for all records, N for only the last N (across rotated
	// files too), counted before Since applies, as in Docker.
	Tail int
	// Follow keeps reading records as they are written, across rotations.
	// It ends when ctx is cancelled, when the clock passes Until, or when
	// Done is closed and everything written has been read.
	Follow bool
	// Done is closed when the writer is finished (the container exited).
	Done <-chan struct{}
}

// Read calls fn for each record of the log at path, in order. It returns
// nil at the end, ctx.Err() when cancelled, or fn's error. A log that does
// not exist is an errdefs.NotFound error. The Message given to fn is fn's
// to keep.
func Read(ctx context.Context, path string, cfg Config, opts ReadOptions, fn func(Message) error) error {
	return read(ctx, path, cfg, opts, fn, tuning{poll: 50 * time.Millisecond})
}

// tuning is what tests change in a reader.
type tuning struct {
	poll      time.Duration // how often a follower looks for more
	following func()        // called once a follower has read the past
}

func read(ctx context.Context, path string, cfg Config, opts ReadOptions, fn func(Message) error, tune tuning) error {
	o, err := parseConfig(cfg)
	if err != nil {
		return err
	}
	if o.driver == None {
		return errdefs.Invalid("configured logging driver does not support reading")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &reader{path: path, fmt: formatFor(o.driver), opts: opts, fn: fn, tuning: tune}
	err = r.run(ctx)
	if errors.Is(err, stopReading{}) {
		return nil
	}
	return err
}

// stopReading ends a read early without an error (a record after Until).
type stopReading struct{}

func (stopReading) Error() string { return "stop reading" }

type reader struct {
	path string
	fmt  format
	opts ReadOptions
	fn   func(Message) error
	last time.Time // of the last record decoded, to find its file after rotations
	tuning
}

func (r *reader) run(ctx context.Context) error {
	files, err := openLog(r.path)
	if err != nil {
		return err
	}
	defer func() { closeAll(files) }()
	cur := files[len(files)-1]
	rotated := files[:len(files)-1]

	// The current file: where the records to show start, and where its
	// last whole record ends now.
	curStart, curEnd, got, err := r.fmt.tail(cur.f, cur.info.Size(), max(r.opts.Tail, 0))
	if err != nil {
		return err
	}
	if r.opts.Tail < 0 {
		curStart = 0
	}
	// The rotated files, newest first while the tail needs more: where to
	// start in each, as an offset (plain) or a count of records to skip
	// (compressed, which cannot be read backwards). A nil entry leaves
	// the file out.
	type part struct {
		start int64
		skip  int
	}
	parts := make([]*part, len(rotated))
	need := r.opts.Tail - got // < 0: all
	for i := len(rotated) - 1; i >= 0 && need != 0; i-- {
		lf := rotated[i]
		if !r.opts.Since.IsZero() {
			// All of this file is before Since, and so are the older
			// files: none of it would be shown. Leaving them out of the
			// tail's count changes nothing, for the same reason.
			if t := lf.lastTime(); !t.IsZero() && t.Before(r.opts.Since) {
				break
			}
		}
		p := &part{}
		parts[i] = p
		switch {
		case need < 0:
		case !lf.gz:
			start, _, got, err := r.fmt.tail(lf.f, lf.info.Size(), need)
			if err != nil {
				return fmt.Errorf("read log %s: %w", lf.name, err)
			}
			p.start = start
			need -= got
		default:
			rd, err := lf.reader()
			if err != nil {
				return err
			}
			count, err := countRecords(rd, r.fmt)
			if err != nil {
				return fmt.Errorf("read log %s: %w", lf.name, err)
			}
			p.skip = max(count-need, 0)
			need -= min(count, need)
		}
	}

	sc := newScanner(r.fmt)
	for i, lf := range rotated {
		p := parts[i]
		if p == nil {
			continue
		}
		rd := io.Reader(io.NewSectionReader(lf.f, p.start, lf.info.Size()-p.start))
		if lf.gz {
			if rd, err = lf.reader(); err != nil {
				return err
			}
		}
		sc.reset(rd, lf.name)
		if err := r.drain(ctx, sc, p.skip); err != nil {
			return err
		}
	}

	if !r.opts.Follow || (!r.opts.Until.IsZero() && !r.opts.Until.After(time.Now())) {
		sc.reset(io.NewSectionReader(cur.f, curStart, curEnd-curStart), cur.name)
		return r.drain(ctx, sc, 0)
	}
	closeAll(rotated)
	files = nil // follow has cur
	if r.last.IsZero() && curStart > 0 {
		r.last = r.lastTimeBefore(cur, curStart)
	}
	if _, err := cur.f.Seek(curStart, io.SeekStart); err != nil {
		cur.Close()
		return err
	}
	sc.reset(cur.f, cur.name)
	return r.follow(ctx, cur, sc)
}

// drain passes on the scanner's records up to the end of its reader,
// skipping the first skip.
func (r *reader) drain(ctx context.Context, sc *scanner, skip int) error {
	for {
		rec, err := sc.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read log %s: %w", sc.name, err)
		}
		if skip > 0 {
			skip--
			continue
		}
		if err := r.emit(ctx, rec); err != nil {
			return err
		}
	}
}

func (r *reader) emit(ctx context.Context, rec []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var m Message
	if r.fmt.decode(rec, &m) != nil {
		// A damaged record (a torn write from a crash, a stray line): the
		// rest of the log is still worth showing.
		return nil
	}
	r.last = m.Time
	if !r.opts.Since.IsZero() && m.Time.Before(r.opts.Since) {
		return nil
	}
	if !r.opts.Until.IsZero() && m.Time.After(r.opts.Until) {
		return stopReading{}
	}
	return r.fn(m)
}

// lastTimeBefore returns the time of the record that ends at off in a
// follower's first file (zero when unknown), which identifies the file once
// it is rotated and compressed (openAfter) when the follower has read none
// of its records.
func (r *reader) lastTimeBefore(lf *logFile, off int64) time.Time {
	start, end, n, err := r.fmt.tail(lf.f, off, 1)
	if err != nil || n != 1 {
		return time.Time{}
	}
	rec := make([]byte, end-start)
	var m Message
	if readFullAt(lf.f, rec, start) != nil || r.fmt.decode(rec, &m) != nil {
		return time.Time{}
	}
	return m.Time
}
