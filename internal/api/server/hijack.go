package server

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// hijacked is a connection taken over from the HTTP server for a
// bidirectional stream (attach, exec start).
type hijacked struct {
	conn net.Conn
	buf  *bufio.ReadWriter
}

// hijack answers the request with 101 UPGRADED when the client asked to
// upgrade, or 200 with a raw stream, as Docker does, and takes the
// connection over.
func hijack(w http.ResponseWriter, r *http.Request, multiplexed bool) (*hijacked, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, errdefs.Invalid("the connection cannot be hijacked")
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return nil, err
	}
	ctype := "application/vnd.docker.raw-stream"
	if multiplexed {
		ctype = "application/vnd.docker.multiplexed-stream"
	}
	if r.Header.Get("Upgrade") != "" {
		_, err = buf.WriteString("HTTP/1.1 101 UPGRADED\r\nContent-Type: " + ctype + "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	} else {
		_, err = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: " + ctype + "\r\n\r\n")
	}
	if err == nil {
		err = buf.Flush()
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &hijacked{conn: conn, buf: buf}, nil
}

// stdioStream is the engine's end of a process's stdio.
type stdioStream interface {
	io.ReadWriteCloser
}

type closeWriter interface{ CloseWrite() error }

// pipe copies the process's output to the client until it ends, and the
// client's input to the process; the detach keys in the input end the
// attachment without touching the process.
func (h *hijacked) pipe(st stdioStream, stdin bool, detachKeys []byte, beforeClose func()) {
	var once sync.Once
	done := make(chan struct{})
	finish := func() { once.Do(func() { close(done) }) }
	go func() {
		_, _ = io.Copy(h.conn, st)
		finish()
	}()
	if stdin {
		go func() {
			var src io.Reader = h.buf.Reader
			if len(detachKeys) > 0 {
				src = &escapeReader{r: src, keys: detachKeys}
			}
			_, err := io.Copy(st, src)
			if err == errDetached {
				finish()
				return
			}
			if cw, ok := st.(closeWriter); ok {
				_ = cw.CloseWrite()
			}
		}()
	}
	<-done
	if beforeClose != nil {
		beforeClose()
	}
	if cw, ok := h.conn.(closeWriter); ok {
		_ = cw.CloseWrite()
	}
	h.conn.Close()
	st.Close()
}

var errDetached = errdefs.Conflict("detached")

// escapeReader ends the input at the detach sequence (Docker's
// ctrl-p,ctrl-q by default). Bytes of a partial match are held back until
// it is clear whether the sequence follows.
type escapeReader struct {
	r       io.Reader
	keys    []byte
	matched int
	pending []byte
}

func (e *escapeReader) Read(p []byte) (int, error) {
	if len(e.pending) > 0 {
		n := copy(p, e.pending)
		e.pending = e.pending[n:]
		return n, nil
	}
	buf := make([]byte, len(p))
	n, err := e.r.Read(buf)
	var out bytes.Buffer
	for _, b := range buf[:n] {
		if b == e.keys[e.matched] {
			e.matched++
			if e.matched == len(e.keys) {
				return 0, errDetached
			}
			continue
		}
		if e.matched > 0 {
			out.Write(e.keys[:e.matched])
			e.matched = 0
		}
		out.WriteByte(b)
	}
	m := copy(p, out.Bytes())
	e.pending = append(e.pending, out.Bytes()[m:]...)
	if m == 0 && err == nil {
		return e.Read(p)
	}
	return m, err
}

// parseDetachKeys reads Docker's "ctrl-p,ctrl-q" form.
func parseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return []byte{16, 17}, nil
	}
	var out []byte
	for _, k := range bytes.Split([]byte(s), []byte(",")) {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case bytes.HasPrefix(k, []byte("ctrl-")) && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c == '@':
				out = append(out, 0)
			case c >= '[' && c <= '_':
				out = append(out, c-'['+27)
			default:
				return nil, errdefs.Invalid("Unknown character: '%s'", k)
			}
		default:
			return nil, errdefs.Invalid("Unknown character: '%s'", k)
		}
	}
	return out, nil
}
