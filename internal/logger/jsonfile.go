package logger

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// jsonFormat is Docker's json-file format: one JSON object per line,
//
//	{"log":"hello\n","stream":"stdout","attrs":{"k":"v"},"time":"2026-11-27T10:00:00.123456789Z"}
//
// with the fields in that order, "log" and "stream" left out when empty,
// "attrs" only when there are some, the time in RFC 3339 with nanoseconds
// (trailing zeros trimmed) in UTC, and strings escaped as dockerd's
// hand-written encoder does (which is encoding/json's escaping, except that
// control characters other than \n and \r are written \u00XX). The encoder
// and decoder here are hand-rolled because every line of every container
// goes through them; encoding/json's reflection costs several times more.
type jsonFormat struct{}

func (jsonFormat) encodeAttrs(attrs map[string]string) ([]byte, error) {
	if len(attrs) == 0 {
		return nil, nil
	}
	// What dockerd does: a map marshalled by encoding/json, keys sorted.
	return json.Marshal(attrs)
}

func (jsonFormat) appendRecord(dst []byte, m *Message, nl bool, attrs []byte) ([]byte, error) {
	t := m.Time.UTC()
	if y := t.Year(); y < 0 || y >= 10000 {
		return dst, errdefs.Invalid("log record time %s: year outside of range [0,9999]", t)
	}
	dst = append(dst, '{')
	first := true
	if len(m.Line) > 0 || nl {
		dst = append(dst, `"log":`...)
		dst = appendJSONString(dst, m.Line, nl)
		first = false
	}
	if m.Stream != "" {
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, `"stream":`...)
		dst = appendJSONString(dst, []byte(m.Stream), false)
		first = false
	}
	if len(attrs) > 0 {
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, `"attrs":`...)
		dst = append(dst, attrs...)
		first = false
	}
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, `"time":"`...)
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"', '}', '\n')
	return dst, nil
}

// appendJSONString appends s as a JSON string the way dockerd writes the
// "log" field: <, > and & as \u003c etc. (as encoding/json does), \n and \r
// as themselves, other control characters as \u00XX, invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped. nl appends an escaped '\n'.
func appendJSONString(dst, s []byte, nl bool) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '\\' && b != '"' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRune(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	if nl {
		dst = append(dst, '\\', 'n')
	}
	return append(dst, '"')
}

func (jsonFormat) frame(b []byte) (int, error) {
	// Strings escape '\n', so a raw one ends the record.
	return bytes.IndexByte(b, '\n') + 1, nil
}

// errBadJSON is what the decoder reports for anything it cannot read; the
// reader skips such lines, as they can only be damage.
func errBadJSON() error { return errors.New("malformed json-file record") }

func (jsonFormat) decode(rec []byte, m *Message) error {
	*m = Message{}
	p := jsonParser{b: rec}
	if !p.consume('{') {
		return errBadJSON()
	}
	if p.consume('}') {
		return nil
	}
	for {
		key, esc, ok := p.rawString()
		if !ok || !p.consume(':') {
			return errBadJSON()
		}
		if esc {
			key, _ = unquote(nil, key)
		}
		p.ws()
		switch {
		case string(key) == "log" && p.peek() == '"':
			raw, esc, ok := p.rawString()
			if !ok {
				return errBadJSON()
			}
			if esc {
				m.Line, ok = unquote(make([]byte, 0, len(raw)), raw)
				if !ok {
					return errBadJSON()
				}
			} else {
				m.Line = bytes.Clone(raw)
			}
		case string(key) == "stream" && p.peek() == '"':
			raw, esc, ok := p.rawString()
			if !ok {
				return errBadJSON()
			}
			switch {
			case esc:
				s, ok := unquote(nil, raw)
				if !ok {
					return errBadJSON()
				}
				m.Stream = string(s)
			case string(raw) == "stdout":
				m.Stream = "stdout" // no allocation for the usual two
			case string(raw) == "stderr":
				m.Stream = "stderr"
			default:
				m.Stream = string(raw)
			}
		case string(key) == "time" && p.peek() == '"':
			raw, esc, ok := p.rawString()
			if !ok || esc {
				return errBadJSON()
			}
			t, err := time.Parse(time.RFC3339Nano, string(raw))
			if err != nil {
				return errBadJSON()
			}
			m.Time = t
		case string(key) == "attrs" && p.peek() == '{':
			attrs, ok := p.stringMap()
			if !ok {
				return errBadJSON()
			}
			m.Attrs = attrs
		default:
			if !p.skipValue() {
				return errBadJSON()
			}
		}
		if p.consume(',') {
			continue
		}
		if p.consume('}') {
			break
		}
		return errBadJSON()
	}
	m.Partial = len(m.Line) == 0 || m.Line[len(m.Line)-1] != '\n'
	return nil
}

// jsonParser reads the little JSON a log line holds without reflection.
type jsonParser struct {
	b []byte
	i int
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *jsonParser) consume(c byte) bool {
	p.ws()
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

// rawString reads a string and returns its bytes between the quotes; esc
// says they need unquote (escapes or non-ASCII, which must be checked for
// invalid UTF-8).
func (p *jsonParser) rawString() (raw []byte, esc, ok bool) {
	if !p.consume('"') {
		return nil, false, false
	}
	start := p.i
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			raw = p.b[start:p.i]
			p.i++
			return raw, esc, true
		case c == '\\':
			esc = true
			p.i += 2
		case c >= utf8.RuneSelf:
			esc = true
			p.i++
		default:
			p.i++
		}
	}
	return nil, false, false
}

func (p *jsonParser) stringMap() (map[string]string, bool) {
	if !p.consume('{') {
		return nil, false
	}
	m := map[string]string{}
	if p.consume('}') {
		return m, true
	}
	for {
		k, ok := p.string()
		if !ok || !p.consume(':') {
			return nil, false
		}
		v, ok := p.string()
		if !ok {
			return nil, false
		}
		m[k] = v
		if p.consume(',') {
			continue
		}
		return m, p.consume('}')
	}
}

func (p *jsonParser) string() (string, bool) {
	raw, esc, ok := p.rawString()
	if !ok {
		return "", false
	}
	if !esc {
		return string(raw), true
	}
	s, ok := unquote(nil, raw)
	return string(s), ok
}

// skipValue steps over a value of a field the decoder does not know.
func (p *jsonParser) skipValue() bool {
	p.ws()
	switch p.peek() {
	case '"':
		_, _, ok := p.rawString()
		return ok
	case '{', '[':
		depth := 0
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case '"':
				if _, _, ok := p.rawString(); !ok {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					p.i++
					return true
				}
			}
			p.i++
		}
		return false
	default: // number, true, false, null
		start := p.i
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return p.i > start
			}
			p.i++
		}
		return false
	}
}

// unquote appends the string raw encodes to dst, as encoding/json decodes
// it: invalid UTF-8 and unpaired surrogates become U+FFFD.
func unquote(dst, raw []byte) ([]byte, bool) {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			if i+1 >= len(raw) {
				return dst, false
			}
			switch e := raw[i+1]; e {
			case '"', '\\', '/':
				dst = append(dst, e)
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(raw[i+2:])
				if r < 0 {
					return dst, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						r2 = hex4(raw[i+2:])
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default:
				return dst, false
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, raw[i:i+size]...)
			}
			i += size
		}
	}
	return dst, true
}

// hex4 decodes the 4 hex digits at the start of b, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// Records end at raw newlines: tail counts them backwards from the end.
func (jsonFormat) tail(r io.ReaderAt, size int64, n int) (start, end int64, count int, err error) {
	return tailLines(r, size, n)
}
