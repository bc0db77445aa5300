package logger

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// fileWriter is the Writer of json-file and local: records appended to the
// file at path, rotated by size.
type fileWriter struct {
	path  string
	opts  options
	fmt   format
	attrs map[string]string // Config.Attrs
	enc   []byte            // attrs encoded once

	mu       sync.Mutex
	f        *os.File
	size     int64
	buf      []byte
	lastTime time.Time  // of the last record written, for a compressed file's header
	compress chan error // the running compression's result; nil when none
	err      error      // a compression's failure, reported by the next rotation or Close
	closed   bool
}

func openFileWriter(path string, o options, attrs map[string]string) (*fileWriter, error) {
	f := formatFor(o.driver)
	enc, err := f.encodeAttrs(attrs)
	if err != nil {
		return nil, err
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errdefs.NotFound("log directory of %s does not exist", path)
		}
		return nil, err
	}
	size, err := cutTornRecord(path, file, f)
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	return &fileWriter{path: path, opts: o, fmt: f, attrs: attrs, enc: enc, f: file, size: size}, nil
}

// cutTornRecord truncates the file after its last whole record: a writer
// that died in the middle of a write leaves a piece that would otherwise
// run into the next record. It returns the file's size.
func cutTornRecord(path string, w *os.File, f format) (int64, error) {
	st, err := w.Stat()
	if err != nil || st.Size() == 0 {
		return 0, err
	}
	r, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	_, end, _, err := f.tail(r, st.Size(), 0)
	if err != nil {
		return 0, err
	}
	if end < st.Size() {
		if err := w.Truncate(end); err != nil {
			return 0, err
		}
	}
	return end, nil
}

func (w *fileWriter) Log(m Message) error {
	if m.Partial && len(m.Line) == 0 {
		return nil
	}
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	nl := !m.Partial && (len(m.Line) == 0 || m.Line[len(m.Line)-1] != '\n')

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errdefs.Conflict("log %s is closed", w.path)
	}
	enc := w.enc
	if len(m.Attrs) > 0 {
		all := maps.Clone(w.attrs)
		if all == nil {
			all = map[string]string{}
		}
		maps.Copy(all, m.Attrs)
		var err error
		if enc, err = w.fmt.encodeAttrs(all); err != nil {
			return err
		}
	}
	rec, err := w.fmt.appendRecord(w.buf[:0], &m, nl, enc)
	if err != nil {
		return err
	}
	w.buf = rec
	var rotErr error
	if w.opts.maxSize > 0 && w.size > 0 && w.size+int64(len(rec)) > w.opts.maxSize {
		// A rotation that fails leaves the current file in place: the
		// record still goes in, over max-size, and the error is reported.
		if err := w.rotate(); err != nil {
			rotErr = fmt.Errorf("rotate log %s: %w", w.path, err)
		}
	}
	// One write per record: a reader sees a record whole or (while the
	// write is in progress) as an incomplete tail it waits for.
	n, err := w.f.Write(rec)
	if err != nil {
		// Take back a partial write (a full disk), so that the next
		// record does not start inside this one.
		if n > 0 && w.f.Truncate(w.size) != nil {
			w.size += int64(n)
		}
		return fmt.Errorf("write log %s: %w", w.path, err)
	}
	w.size += int64(n)
	w.lastTime = m.Time
	// Do not keep a huge buffer for one huge record.
	if cap(w.buf) > 1<<20 {
		w.buf = nil
	}
	return rotErr
}

func (w *fileWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	w.waitCompress()
	err := w.f.Close()
	if w.err != nil {
		return w.err
	}
	return err
}
