package logger

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// logFile is one file of a log, open for reading.
type logFile struct {
	name string
	f    *os.File
	gz   bool
	info os.FileInfo // at open: identity and size
}

func (l *logFile) Close() error { return l.f.Close() }

// lastTime is the time of a compressed file's last record from its gzip
// header (zero when not known).
func (l *logFile) lastTime() time.Time {
	if !l.gz {
		return time.Time{}
	}
	defer l.f.Seek(0, io.SeekStart)
	zr, err := gzip.NewReader(l.f)
	if err != nil {
		return time.Time{}
	}
	var meta gzipMeta
	if json.Unmarshal(zr.Header.Extra, &meta) != nil {
		return time.Time{}
	}
	return meta.LastTime
}

// reader returns the file's records from the start.
func (l *logFile) reader() (io.Reader, error) {
	if _, err := l.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if !l.gz {
		return l.f, nil
	}
	zr, err := gzip.NewReader(l.f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", l.name, err)
	}
	return zr, nil
}

func closeAll(files []*logFile) {
	for _, f := range files {
		f.Close()
	}
}

// openCurrent opens the file at path and takes a shared flock on it, so
// that no rotation runs while the caller opens the rotated files. It tries
// again when the file was rotated before the lock was granted. The caller
// unlocks.
func openCurrent(path string) (*logFile, error) {
	for attempt := 0; ; attempt++ {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, errdefs.NotFound("log file %s not found", path)
		}
		if err != nil {
			return nil, err
		}
		if err := flock(f, unix.LOCK_SH); err != nil {
			f.Close()
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if now, err := os.Stat(path); err == nil && os.SameFile(st, now) {
			return &logFile{name: path, f: f, info: st}, nil
		}
		f.Close()
		if attempt == 100 {
			return nil, errdefs.Unavailable("log file %s keeps being replaced", path)
		}
	}
}

// openLog opens all the files of the log at path: the rotated ones oldest
// first, then the current one.
func openLog(path string) ([]*logFile, error) {
	cur, err := openCurrent(path)
	if err != nil {
		return nil, err
	}
	defer flock(cur.f, unix.LOCK_UN)
	var files []*logFile
	for i := 1; ; i++ {
		lf, err := openRotated(path, i)
		if err != nil {
			closeAll(files)
			cur.Close()
			return nil, err
		}
		if lf == nil {
			break
		}
		files = append(files, lf)
	}
	slices.Reverse(files)
	return append(files, cur), nil
}

// openRotated opens path.i, or path.i.gz when it is compressed (already,
// or between the two opens: the compressor removes the plain file only
// once the .gz is complete). It returns nil when there is neither.
func openRotated(path string, i int) (*logFile, error) {
	name := rotatedName(path, i)
	gz := false
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		name += ".gz"
		gz = true
		f, err = os.Open(name)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logFile{name: name, f: f, gz: gz, info: st}, nil
}

// openAfter opens what follows old after the log rotated: the current file,
// preceded by the files rotated after old when the follower fell more than
// one rotation behind. old is found among the rotated files by inode while
// it is uncompressed, or else by the time of its last record (last), which
// a compressed file's header holds. When neither finds it (the follower
// fell so far behind that old is gone), only the current file is returned.
func openAfter(path string, old os.FileInfo, last time.Time) ([]*logFile, error) {
	cur, err := openCurrent(path)
	if err != nil {
		return nil, err
	}
	defer flock(cur.f, unix.LOCK_UN)
	var files []*logFile
	for i := 1; ; i++ {
		lf, err := openRotated(path, i)
		if err != nil {
			closeAll(files)
			cur.Close()
			return nil, err
		}
		if lf == nil {
			// old is not there: what was rotated after it cannot be told.
			closeAll(files)
			files = nil
			break
		}
		if os.SameFile(lf.info, old) || (lf.gz && !last.IsZero() && lf.lastTime().Equal(last)) {
			lf.Close()
			break
		}
		files = append(files, lf)
	}
	slices.Reverse(files)
	return append(files, cur), nil
}
