package logger

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"time"
)

// localFormat is the local driver's framing (gantry's own; Docker's local
// driver frames protobuf the same way, but the two are not interchangeable).
// A record is
//
//	size    uint32, big-endian: length of body
//	body:
//	  flags   1 byte: bit 0 partial; other bits zero (a later version would set them)
//	  time    int64, big-endian: Unix nanoseconds, UTC
//	  slen    1 byte, then slen bytes: the stream name
//	  nattrs  uvarint, then nattrs × (uvarint len, key, uvarint len, value)
//	  line    the rest of body, bytes as written
//	size    uint32 again
//
// The trailing size lets tail walk the file backwards without decoding, and
// the two sizes must agree, which catches a torn or foreign record.
type localFormat struct{}

const localHeader = 1 + 8 + 1 // flags, time, slen

func (localFormat) encodeAttrs(attrs map[string]string) ([]byte, error) {
	if len(attrs) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := binary.AppendUvarint(nil, uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(attrs[k])))
		b = append(b, attrs[k]...)
	}
	return b, nil
}

func (localFormat) appendRecord(dst []byte, m *Message, nl bool, attrs []byte) ([]byte, error) {
	if len(m.Stream) > 255 {
		return dst, fmt.Errorf("log stream name longer than 255 bytes")
	}
	if attrs == nil {
		attrs = []byte{0} // no attributes: a zero count
	}
	size := localHeader + len(m.Stream) + len(attrs) + len(m.Line)
	if nl {
		size++
	}
	if size > maxRecord {
		return dst, fmt.Errorf("log record larger than %d bytes", maxRecord)
	}
	var flags byte
	if m.Partial {
		flags |= 1
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(size))
	dst = append(dst, flags)
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.Time.UnixNano()))
	dst = append(dst, byte(len(m.Stream)))
	dst = append(dst, m.Stream...)
	dst = append(dst, attrs...)
	dst = append(dst, m.Line...)
	if nl {
		dst = append(dst, '\n')
	}
	return binary.BigEndian.AppendUint32(dst, uint32(size)), nil
}

func (localFormat) frame(b []byte) (int, error) {
	if len(b) < 4 {
		return 0, nil
	}
	size := int(binary.BigEndian.Uint32(b))
	if size < localHeader || size > maxRecord {
		return 0, fmt.Errorf("corrupt local log record: size %d", size)
	}
	if len(b) < size+8 {
		return 0, nil
	}
	if t := int(binary.BigEndian.Uint32(b[4+size:])); t != size {
		return 0, fmt.Errorf("corrupt local log record: sizes %d and %d differ", size, t)
	}
	return size + 8, nil
}

func (localFormat) decode(rec []byte, m *Message) error {
	*m = Message{}
	body := rec[4 : len(rec)-4]
	flags := body[0]
	if flags&^1 != 0 {
		return fmt.Errorf("local log record of an unknown version (flags %#x)", flags)
	}
	m.Partial = flags&1 != 0
	m.Time = time.Unix(0, int64(binary.BigEndian.Uint64(body[1:9]))).UTC()
	slen := int(body[9])
	b := body[localHeader:]
	if len(b) < slen {
		return errCorruptLocal()
	}
	switch s := b[:slen]; string(s) {
	case "stdout":
		m.Stream = "stdout"
	case "stderr":
		m.Stream = "stderr"
	default:
		m.Stream = string(s)
	}
	b = b[slen:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return errCorruptLocal()
	}
	b = b[k:]
	if n > 0 {
		if n > uint64(len(b)) {
			return errCorruptLocal()
		}
		m.Attrs = make(map[string]string, n)
		for range n {
			var key, val string
			var ok bool
			if key, b, ok = uvarintString(b); !ok {
				return errCorruptLocal()
			}
			if val, b, ok = uvarintString(b); !ok {
				return errCorruptLocal()
			}
			m.Attrs[key] = val
		}
	}
	m.Line = append(make([]byte, 0, len(b)), b...)
	return nil
}

func errCorruptLocal() error { return fmt.Errorf("corrupt local log record") }

func uvarintString(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", b, false
	}
	b = b[k:]
	return string(b[:n]), b[n:], true
}

func (localFormat) tail(r io.ReaderAt, size int64, n int) (start, end int64, count int, err error) {
	return tailFrames(r, size, n)
}
