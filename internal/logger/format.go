package logger

import (
	"fmt"
	"io"
)

// format is one driver's on-disk record encoding. Both are framed so that a
// reader can find record boundaries without decoding, from the front
// (frame) and from the back (tail).
type format interface {
	// encodeAttrs encodes attributes once, for appendRecord.
	encodeAttrs(attrs map[string]string) ([]byte, error)
	// appendRecord appends m's record to dst; nl adds the '\n' m.Line
	// lacks. attrs comes from encodeAttrs (nil: none).
	appendRecord(dst []byte, m *Message, nl bool, attrs []byte) ([]byte, error)
	// frame returns the length of the record at the start of b, 0 when b
	// does not hold all of it yet, or an error when b cannot start one.
	frame(b []byte) (int, error)
	// decode decodes one whole record (as framed) into m. m.Line is newly
	// allocated; rec is not retained.
	decode(rec []byte, m *Message) error
	// tail finds, in the first size bytes of r, the end of the last
	// complete record and the start of the last n records before it; count
	// is how many records that is (fewer than n when there are no more). It
	// reads backwards and stops as soon as it has them.
	tail(r io.ReaderAt, size int64, n int) (start, end int64, count int, err error)
}

func formatFor(driver string) format {
	if driver == Local {
		return localFormat{}
	}
	return jsonFormat{}
}

// maxRecord bounds a record so that a corrupt length or a runaway line cannot
// make a reader allocate without limit. The shim splits lines at 16 KiB, as
// Docker's copier does, so real records are far smaller.
const maxRecord = 64 << 20

// scanner yields whole records from r. At the end of r it returns io.EOF and
// keeps an incomplete record's bytes, so that calling it again after the file
// has grown carries on where it stopped (following).
type scanner struct {
	r      io.Reader
	name   string // of the file, for errors
	f      format
	buf    []byte
	lo, hi int // buf[lo:hi] is read and not yet returned
}

func newScanner(f format) *scanner {
	return &scanner{f: f, buf: make([]byte, 64<<10)}
}

// reset points the scanner at another reader (of the file name), dropping
// what it holds.
func (s *scanner) reset(r io.Reader, name string) {
	s.r, s.name, s.lo, s.hi = r, name, 0, 0
}

// next returns the next record, valid until the following call.
func (s *scanner) next() ([]byte, error) {
	for {
		if s.hi > s.lo {
			n, err := s.f.frame(s.buf[s.lo:s.hi])
			if err != nil {
				return nil, err
			}
			if n > 0 {
				rec := s.buf[s.lo : s.lo+n]
				s.lo += n
				return rec, nil
			}
		}
		if s.lo > 0 {
			s.hi = copy(s.buf, s.buf[s.lo:s.hi])
			s.lo = 0
		}
		if s.hi == len(s.buf) {
			if len(s.buf) >= maxRecord {
				return nil, fmt.Errorf("log record larger than %d bytes", maxRecord)
			}
			s.buf = append(s.buf, make([]byte, len(s.buf))...)
		}
		n, err := s.r.Read(s.buf[s.hi:])
		s.hi += n
		if n > 0 {
			continue
		}
		if err != nil {
			return nil, err
		}
	}
}
