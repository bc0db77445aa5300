package runtime

import (
	"errors"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/containerd/console"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// stdio connects a container process to the caller: inherited descriptors,
// pipes copied to our own stdio, or a pseudo-terminal whose master is either
// handed to a console socket or driven from our terminal.
type stdio struct {
	afterStart []io.Closer // our ends of what only the child needs
	closers    []io.Closer // closed once the copies are done
	copies     sync.WaitGroup
	consoleErr chan error // receives the master when we drive the terminal

	host   console.Console
	master console.Console
}

// setupStdio prepares p's stdio. detach means the caller will not stay
// attached: the process then inherits our descriptors or, with a terminal,
// the master goes to consoleSocket.
func setupStdio(p *libcontainer.Process, c *libcontainer.Container, terminal, detach bool, consoleSocket string) (*stdio, error) {
	s := &stdio{}
	if terminal {
		if detach {
			conn, err := net.Dial("unix", consoleSocket)
			if err != nil {
				return nil, errdefs.Unavailable("console socket %s: %v", consoleSocket, err)
			}
			f, err := conn.(*net.UnixConn).File()
			if err != nil {
				conn.Close()
				return nil, err
			}
			p.ConsoleSocket = f
			s.afterStart = append(s.afterStart, conn, f)
			return s, nil
		}
		if err := s.openHostConsole(); err != nil {
			return nil, err
		}
		parent, child, err := utils.NewSockPair("console")
		if err != nil {
			return nil, err
		}
		p.ConsoleSocket = child
		s.afterStart = append(s.afterStart, parent, child)
		s.consoleErr = make(chan error, 1)
		go func() { s.consoleErr <- s.driveConsole(parent) }()
		return s, nil
	}
	if detach {
		p.Stdin, p.Stdout, p.Stderr = os.Stdin, os.Stdout, os.Stderr
		return s, nil
	}
	cfg := c.Config()
	uid, err := cfg.HostRootUID()
	if err != nil {
		return nil, err
	}
	gid, err := cfg.HostRootGID()
	if err != nil {
		return nil, err
	}
	pipes, err := p.InitializeIO(uid, gid)
	if err != nil {
		return nil, err
	}
	for _, end := range []any{p.Stdin, p.Stdout, p.Stderr} {
		if cl, ok := end.(io.Closer); ok {
			s.afterStart = append(s.afterStart, cl)
		}
	}
	s.closers = append(s.closers, pipes.Stdin, pipes.Stdout, pipes.Stderr)
	go func() {
		_, _ = io.Copy(pipes.Stdin, os.Stdin)
		_ = pipes.Stdin.Close()
	}()
	s.copies.Add(2)
	go s.copy(os.Stdout, pipes.Stdout)
	go s.copy(os.Stderr, pipes.Stderr)
	return s, nil
}

func (s *stdio) copy(w io.Writer, r io.ReadCloser) {
	defer s.copies.Done()
	_, _ = io.Copy(w, r)
	_ = r.Close()
}

func (s *stdio) openHostConsole() error {
	for _, f := range []*os.File{os.Stderr, os.Stdout, os.Stdin} {
		c, err := console.ConsoleFromFile(f)
		if err == nil {
			s.host = c
			return nil
		}
		if !errors.Is(err, console.ErrNotAConsole) {
			return err
		}
	}
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return errdefs.Invalid("the process wants a terminal but gantry has none: run it from a terminal, or use --detach with --console-socket")
	}
	c, err := console.ConsoleFromFile(tty)
	if err != nil {
		return err
	}
	s.host = c
	return nil
}

// driveConsole receives the master from the container's init and copies it
// to and from our terminal, which it puts in raw mode.
func (s *stdio) driveConsole(sock *os.File) error {
	f, err := utils.RecvFile(sock)
	if err != nil {
		return err
	}
	master, err := console.ConsoleFromFile(f)
	if err != nil {
		return err
	}
	if err := console.ClearONLCR(master.Fd()); err != nil {
		return err
	}
	s.master = master
	go func() { _, _ = io.Copy(master, os.Stdin) }()
	s.copies.Add(1)
	go func() {
		defer s.copies.Done()
		_, _ = io.Copy(os.Stdout, master)
	}()
	s.closers = append(s.closers, master)
	if err := s.host.SetRaw(); err != nil {
		return err
	}
	go func() {
		interrupts := make(chan os.Signal, 1)
		signal.Notify(interrupts, os.Interrupt)
		<-interrupts
		_ = s.host.Reset()
		os.Exit(0)
	}()
	return nil
}

func (s *stdio) waitConsole() error {
	if s.consoleErr == nil {
		return nil
	}
	return <-s.consoleErr
}

func (s *stdio) resize() {
	if s.master != nil && s.host != nil {
		_ = s.master.ResizeFrom(s.host)
	}
}

func (s *stdio) closeAfterStart() {
	for _, c := range s.afterStart {
		_ = c.Close()
	}
	s.afterStart = nil
}

// Close waits for the output to drain, then releases everything.
func (s *stdio) Close() {
	s.closeAfterStart()
	if s.master == nil {
		s.copies.Wait()
	} else {
		// The master reads EIO once the last process holding the slave
		// exits; give the copy a moment rather than hang on a lingering fd.
		waitOrTimeout(&s.copies)
	}
	for _, c := range s.closers {
		_ = c.Close()
	}
	if s.host != nil {
		_ = s.host.Reset()
	}
}

func waitOrTimeout(wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(200 * time.Millisecond):
	}
}
