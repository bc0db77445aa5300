package logger

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// rotatedName is the name of the i-th rotated file (1 is the newest).
func rotatedName(path string, i int) string { return path + "." + strconv.Itoa(i) }

// rotate moves the current file to path.1 (shifting the older ones up to
// path.<max-file-1>, dropping the oldest) and starts an empty one. It keeps
// the path naming a complete file at every moment: the new file is made
// aside and renamed over it. Readers are held off the shift with an
// exclusive flock on the outgoing file. w.mu is held.
func (w *fileWriter) rotate() error {
	// A failed compression leaves its file uncompressed, which readers
	// read as well; Close reports it.
	w.waitCompress()
	old := w.f
	if err := flock(old, unix.LOCK_EX); err != nil {
		return err
	}
	next, err := w.replace()
	flock(old, unix.LOCK_UN)
	if err != nil {
		return err
	}
	old.Close()
	w.f, w.size = next, 0
	if w.opts.compress && w.opts.maxFile > 1 {
		done := make(chan error, 1)
		w.compress = done
		name, last := rotatedName(w.path, 1), w.lastTime
		// In the background: the container's output must not wait for
		// gzip. The next rotation and Close wait for it.
		go func() { done <- compressFile(name, last) }()
	}
	return nil
}

// replace does the renames of a rotation and returns the new current file.
func (w *fileWriter) replace() (*os.File, error) {
	tmp := w.path + ".new"
	next, err := os.OpenFile(tmp, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		next.Close()
		os.Remove(tmp)
		return nil, err
	}
	if w.opts.maxFile > 1 {
		last := w.opts.maxFile - 1
		// The oldest goes, and any left beyond it by a larger max-file.
		for i := last; ; i++ {
			a, b := removeIfExists(rotatedName(w.path, i)), removeIfExists(rotatedName(w.path, i)+".gz")
			if a != nil || b != nil {
				return fail(errors.Join(a, b))
			}
			if !exists(rotatedName(w.path, i+1)) && !exists(rotatedName(w.path, i+1)+".gz") {
				break
			}
		}
		for i := last; i > 1; i-- {
			for _, ext := range []string{"", ".gz"} {
				err := os.Rename(rotatedName(w.path, i-1)+ext, rotatedName(w.path, i)+ext)
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					return fail(err)
				}
			}
		}
		// A link rather than a rename, so that the path is never missing:
		// the rename of the new file below replaces it in one step.
		one := rotatedName(w.path, 1)
		if err := os.Link(w.path, one); err != nil {
			if err := os.Rename(w.path, one); err != nil {
				return fail(err)
			}
		}
	}
	if err := os.Rename(tmp, w.path); err != nil {
		return fail(err)
	}
	return next, nil
}

func exists(name string) bool {
	_, err := os.Lstat(name)
	return err == nil
}

func removeIfExists(name string) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// waitCompress waits for the running compression, keeping its error.
func (w *fileWriter) waitCompress() {
	if w.compress == nil {
		return
	}
	if err := <-w.compress; err != nil && w.err == nil {
		w.err = err
	}
	w.compress = nil
}

// gzipMeta is the gzip header's Extra field of a compressed rotated file,
// as dockerd writes it: a reader looking for logs since a time skips files
// that end before it without decompressing them.
type gzipMeta struct {
	LastTime time.Time `json:"lastTime,omitempty"`
}

// compressFile gzips name to name.gz. Readers look for name first, so the
// .gz is written aside, renamed into place whole, and only then is name
// removed: at every moment one complete copy is there to open.
func compressFile(name string, last time.Time) (err error) {
	src, err := os.Open(name)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := name + ".gz.new"
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			dst.Close()
			os.Remove(tmp)
			err = fmt.Errorf("compress rotated log %s: %w", name, err)
		}
	}()
	zw := gzip.NewWriter(dst)
	if !last.IsZero() {
		zw.Header.Extra, _ = json.Marshal(gzipMeta{LastTime: last.UTC()})
	}
	if _, err := io.Copy(zw, src); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, name+".gz"); err != nil {
		return err
	}
	return removeIfExists(name)
}

// flock locks or unlocks f for other processes, without f.Fd's side effect
// of making the descriptor blocking.
func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Flock(int(fd), how)
			if ferr != unix.EINTR {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	if ferr != nil {
		return &os.PathError{Op: "flock", Path: f.Name(), Err: ferr}
	}
	return nil
}
