package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
)

// errDetached ends a stream when the user typed the detach keys; its text
// is moby/term's, which `docker attach` prints.
var errDetached = errors.New("read escape sequence")

// defaultDetachKeys is Ctrl-P Ctrl-Q.
var defaultDetachKeys = []byte{16, 17}

// parseDetachKeys reads a detach key sequence as Docker does: keys
// separated by commas, each a single character or "ctrl-X" where X is a
// letter or one of @ [ \ ] ^ _.
func parseDetachKeys(keys string) ([]byte, error) {
	if keys == "" {
		return defaultDetachKeys, nil
	}
	var out []byte
	for _, k := range strings.Split(keys, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case len(k) == 6 && strings.HasPrefix(strings.ToLower(k), "ctrl-"):
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c >= 'A' && c <= 'Z':
				out = append(out, c-'A'+1)
			case c == '@':
				out = append(out, 0)
			case c >= '[' && c <= '_':
				out = append(out, c-'['+27)
			default:
				return nil, fmt.Errorf("invalid detach keys (%s): Unknown character: '%s'", keys, k)
			}
		default:
			return nil, fmt.Errorf("invalid detach keys (%s): Unknown character: '%s'", keys, k)
		}
	}
	return out, nil
}

// escapeProxy passes input through, holding back a prefix of the detach
// sequence until it is complete (then the stream ends with errDetached) or
// broken (then the held bytes go through).
type escapeProxy struct {
	r       io.Reader
	keys    []byte
	matched int
	pending []byte
	err     error
	buf     [4096]byte
}

func newEscapeProxy(r io.Reader, keys []byte) *escapeProxy {
	return &escapeProxy{r: r, keys: keys}
}

func (p *escapeProxy) Read(out []byte) (int, error) {
	for len(p.pending) == 0 {
		if p.err != nil {
			return 0, p.err
		}
		n, err := p.r.Read(p.buf[:])
		for _, b := range p.buf[:n] {
			if b == p.keys[p.matched] {
				p.matched++
				if p.matched == len(p.keys) {
					p.matched = 0
					p.err = errDetached
					break
				}
				continue
			}
			p.pending = append(p.pending, p.keys[:p.matched]...)
			p.matched = 0
			if b == p.keys[0] {
				p.matched = 1
				if len(p.keys) == 1 {
					p.matched = 0
					p.err = errDetached
					break
				}
				continue
			}
			p.pending = append(p.pending, b)
		}
		if err != nil && p.err == nil {
			p.pending = append(p.pending, p.keys[:p.matched]...)
			p.matched = 0
			p.err = err
		}
	}
	n := copy(out, p.pending)
	p.pending = p.pending[n:]
	return n, nil
}

// terminal is the process's standard input when it is a terminal.
type terminal struct {
	fd    int
	once  sync.Once
	state *term.State
}

// stdinTerminal returns the terminal on in, or nil.
func stdinTerminal(in io.Reader) *terminal {
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &terminal{fd: int(f.Fd())}
}

func (t *terminal) makeRaw() error {
	st, err := term.MakeRaw(t.fd)
	if err != nil {
		return err
	}
	t.state = st
	return nil
}

func (t *terminal) restore() {
	t.once.Do(func() {
		if t.state != nil {
			_ = term.Restore(t.fd, t.state)
		}
	})
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ttySize is the size of the terminal on w as (height, width), zero when
// w is not a terminal.
func ttySize(w any) (uint, uint) {
	f, ok := w.(*os.File)
	if !ok {
		return 0, 0
	}
	width, height, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0, 0
	}
	return uint(height), uint(width)
}

// checkTTY refuses -t with -i when the input is not a terminal.
func checkTTY(in io.Reader, attachStdin, tty bool) error {
	if tty && attachStdin && !isTerminal(in) {
		return errors.New("the input device is not a TTY")
	}
	return nil
}

// streams are the local ends of a hijacked connection.
type streams struct {
	in         io.Reader // nil: stdin not attached
	out, err   io.Writer // nil: not attached
	tty        bool
	detachKeys []byte
}

// stream copies between the local streams and a hijacked connection:
// demultiplexed output without a TTY, raw bytes and a raw terminal with
// one. It returns when the output ends, or when the input ends and there
// is no output, or on detach (errDetached), or when ctx ends.
func (s streams) stream(ctx context.Context, resp *apiclient.HijackedResponse) error {
	in := s.in
	restore := func() {}
	if in != nil && s.tty {
		if t := stdinTerminal(in); t != nil {
			if err := t.makeRaw(); err != nil {
				return fmt.Errorf("unable to set IO streams as raw terminal: %s", err)
			}
			restore = t.restore
		}
		in = newEscapeProxy(in, s.detachKeys)
	}
	defer restore()

	var outDone chan error
	if s.out != nil || s.err != nil {
		outDone = make(chan error, 1)
		go func() {
			var err error
			if s.tty {
				_, err = io.Copy(orDiscard(s.out), resp.Reader)
				restore()
			} else {
				_, err = stdcopy.StdCopy(orDiscard(s.out), orDiscard(s.err), resp.Reader)
			}
			outDone <- err
		}()
	}
	inDone := make(chan struct{})
	detached := make(chan error, 1)
	go func() {
		if in != nil {
			_, err := io.Copy(resp.Conn, in)
			restore()
			if errors.Is(err, errDetached) {
				detached <- err
				return
			}
		}
		_ = resp.CloseWrite()
		close(inDone)
	}()

	select {
	case err := <-outDone:
		return err
	case <-inDone:
		if outDone == nil {
			return nil
		}
		select {
		case err := <-outDone:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	case err := <-detached:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// resizer sends the local terminal's size to a container or an exec.
type resizer func(ctx context.Context, height, width uint) error

func containerResizer(api *apiClient, id string) resizer {
	return func(ctx context.Context, h, w uint) error {
		_, err := api.ContainerResize(ctx, id, apiclient.ContainerResizeOptions{Height: h, Width: w})
		return err
	}
}

func execResizer(api *apiClient, id string) resizer {
	return func(ctx context.Context, h, w uint) error {
		_, err := api.ExecResize(ctx, id, apiclient.ExecResizeOptions{Height: h, Width: w})
		return err
	}
}

// monitorTTYSize sends the terminal's size now (retrying briefly: the
// process may not be ready for it yet) and on every SIGWINCH until ctx
// ends.
func monitorTTYSize(ctx context.Context, out any, stderr io.Writer, resize resizer) {
	send := func() error {
		h, w := ttySize(out)
		if h == 0 && w == 0 {
			return nil
		}
		return resize(ctx, h, w)
	}
	if err := send(); err != nil {
		go func() {
			var err error
			for retry := range 10 {
				time.Sleep(time.Duration(retry+1) * 10 * time.Millisecond)
				if err = send(); err == nil {
					return
				}
			}
			fmt.Fprintln(stderr, "failed to resize tty, using default size")
		}()
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	go func() {
		defer signal.Stop(winch)
		for {
			select {
			case <-winch:
				_ = send()
			case <-ctx.Done():
				return
			}
		}
	}()
}

// proxySignals forwards the signals this process receives to the
// container until the returned function is called (sig-proxy). Releasing
// every signal takes one round trip per signal to the Go runtime's signal
// thread (1-4 ms on a small VM): it is left to the background, where the
// command's exit cuts it short.
func proxySignals(ctx context.Context, api *apiClient, id string) (stop func()) {
	sigc := make(chan os.Signal, 128)
	signal.Notify(sigc)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigc:
				sig, ok := s.(unix.Signal)
				if !ok || sig == unix.SIGCHLD || sig == unix.SIGPIPE || sig == unix.SIGURG || sig == unix.SIGWINCH {
					continue
				}
				name := strings.TrimPrefix(unix.SignalName(sig), "SIG")
				if name == "" {
					continue
				}
				_, _ = api.ContainerKill(ctx, id, apiclient.ContainerKillOptions{Signal: name})
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			go signal.Stop(sigc)
		})
	}
}
