// Package logger holds the container log drivers: json-file (Docker's
// format, byte for byte), local (a compact binary framing) and none.
//
// One process writes a container's log (the shim, through a Writer); any
// number of others read it (the daemon, for `docker logs`), possibly while
// it is written and rotated. The two sides share nothing but the files, so
// every rule they agree on is on disk:
//
//   - A record is appended with one write(2); a reader treats an incomplete
//     record at the end of a file as not written yet.
//   - Rotation replaces the file at the log's path with a new one (a new
//     inode) and never truncates: a reader holding the old file reads it to
//     its end, then notices the path names another file.
//   - Rotated files are <path>.1 (newest) ... <path>.N, gzipped to
//     <path>.N.gz when compression is on, as Docker names them. The writer
//     holds an exclusive flock(2) on the current file while it shifts them;
//     a reader takes a shared one while it opens the set, so it sees each
//     file once.
package logger

import (
	"path/filepath"
	"time"
)

// Message is one log record.
type Message struct {
	Stream  string // "stdout" or "stderr"
	Line    []byte // includes the trailing '\n' unless Partial
	Partial bool   // the line continues in the next record
	Time    time.Time
	Attrs   map[string]string
}

// Writer appends a container's log records. It is safe for concurrent use
// (stdout and stderr are copied by two goroutines).
type Writer interface {
	// Log appends m. A zero Time is taken as now; a Line not Partial gets
	// its '\n' if it lacks one (so that json-file, which has no partial
	// flag, reads it back the same); an empty Partial line is dropped.
	// When a rotation fails the record is still written, to the current
	// file, and the rotation's error returned.
	Log(m Message) error
	// Close finishes the log, waiting for a rotated file's compression and
	// reporting any compression that failed.
	Close() error
}

// New opens the log at path for appending, creating it (0640) in an
// existing directory. For "none" it returns a Writer that discards.
// An incomplete record left at the end by a writer that died mid-write is
// cut off first.
func New(path string, cfg Config) (Writer, error) {
	o, err := parseConfig(cfg)
	if err != nil {
		return nil, err
	}
	if o.driver == None {
		return discard{}, nil
	}
	return openFileWriter(path, o, cfg.Attrs)
}

// Path is the log file a driver uses inside a container directory:
// "<dir>/<id>-json.log" for json-file (Docker's name), "<dir>/container.log"
// for local, "" for none.
func Path(dir, id string, cfg Config) string {
	switch cfg.Driver {
	case "", JSONFile:
		return filepath.Join(dir, id+"-json.log")
	case Local:
		return filepath.Join(dir, "container.log")
	}
	return ""
}

// discard is the none driver's Writer.
type discard struct{}

func (discard) Log(Message) error { return nil }
func (discard) Close() error      { return nil }
