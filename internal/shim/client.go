package shim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Client talks to one container's shim.
type Client struct {
	socket string
}

// NewClient is a client of the shim listening on socket.
func NewClient(socket string) *Client { return &Client{socket: socket} }

// ErrGone means the shim is not there any more: its container has exited
// (see the exit file) or it never ran.
var ErrGone = errors.New("shim is gone")

// Launcher starts shims. It keeps one standby shim ready, started ahead
// of need, so that a container start does not wait for a process and its
// runtime to come up.
type Launcher struct {
	exe string
	tag string // on standby shims' command lines, to tell whose they are

	mu      sync.Mutex
	standby *standbyShim
	code    *codeCopy // made on first need
	tried   bool      // to make code; shims do without it when it fails
}

type standbyShim struct {
	cmd *exec.Cmd
	ctl *os.File // our end of the socket pair
}

// NewLauncher launches shims from the gantry binary exe; tag (the exec
// root) marks their command lines.
func NewLauncher(exe, tag string) *Launcher { return &Launcher{exe: exe, tag: tag} }

// Close ends the standby shim.
func (l *Launcher) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.standby != nil {
		l.standby.ctl.Close() // it reads end of file and exits
		l.standby = nil
	}
	if l.code != nil {
		l.code.close()
		l.code = nil
	}
}

// Prepare starts a standby shim if there is none.
func (l *Launcher) Prepare() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.standby != nil {
		return
	}
	sb, err := l.startStandby()
	if err == nil {
		l.standby = sb
	}
}

func (l *Launcher) startStandby() (*standbyShim, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "shim-control"), os.NewFile(uintptr(fds[1]), "shim-control")
	defer theirs.Close()
	cmd := exec.Command(l.exe, "shim", "--standby", l.tag)
	// One P: a shim copies a container's output and waits, and the
	// container's init (which inherits GOMAXPROCS through libcontainer)
	// runs for milliseconds on one thread. More Ps only add threads that
	// spin looking for work, at every start.
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.ExtraFiles = []*os.File{theirs}
	if code := l.codeForShims(); code != nil {
		// The binary this daemon runs, whatever is at its path now: the
		// copy must hold the same bytes.
		cmd.Path = "/proc/self/exe"
		cmd.ExtraFiles = append(cmd.ExtraFiles, code.f)
	}
	// Its own session, so it outlives the daemon with its container.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		ours.Close()
		return nil, fmt.Errorf("starting a shim: %w", err)
	}
	// Reap it whenever it ends; after a daemon restart init does.
	go func() { _ = cmd.Wait() }()
	return &standbyShim{cmd: cmd, ctl: ours}, nil
}

// codeForShims is the copy of the binary handed to shims, made on first need;
// nil when it cannot be made or when shims are not this process's binary
// (a test's). The caller holds l.mu.
func (l *Launcher) codeForShims() *codeCopy {
	if !l.tried {
		l.tried = true
		a, err1 := os.Stat(l.exe)
		b, err2 := os.Stat("/proc/self/exe")
		if err1 == nil && err2 == nil && os.SameFile(a, b) {
			l.code, _ = newCodeCopy()
		}
	}
	return l.code
}

// Launch hands o (written to dir) to a shim, which creates the container,
// and waits for its report. The shim's stderr goes to errLog.
func (l *Launcher) Launch(ctx context.Context, dir, errLog string, o Options) (pid int, err error) {
	data, err := json.Marshal(o)
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigName), data, 0o600); err != nil {
		return 0, err
	}
	l.mu.Lock()
	sb := l.standby
	l.standby = nil
	if sb == nil {
		sb, err = l.startStandby()
	}
	l.mu.Unlock()
	if err != nil {
		return 0, err
	}
	// The next start finds one ready. It is started once this container's
	// shim has reported: on a small machine its start-up would otherwise
	// compete for the CPU with this container's init.
	defer func() { go l.Prepare() }()
	defer sb.ctl.Close()
	job, _ := json.Marshal(standbyJob{Dir: dir, ErrLog: errLog})
	if _, err := sb.ctl.Write(append(job, '\n')); err != nil {
		_ = sb.cmd.Process.Kill()
		return 0, fmt.Errorf("handing the container to its shim: %w", err)
	}
	var resp Response
	if err := json.NewDecoder(bufio.NewReader(sb.ctl)).Decode(&resp); err != nil {
		_ = sb.cmd.Process.Kill()
		log, _ := os.ReadFile(errLog)
		return 0, fmt.Errorf("the shim ended before reporting: %v %s", err, log)
	}
	if resp.Error != "" {
		return 0, classed(resp)
	}
	return resp.Pid, nil
}

// call sends req and reads the response; the connection stays open for
// the caller when keep is set.
func (c *Client) call(ctx context.Context, req Request, keep bool) (net.Conn, *bufio.Reader, Response, error) {
	var resp Response
	conn, err := dial(c.socket)
	if err != nil {
		return nil, nil, resp, fmt.Errorf("%w: %v", ErrGone, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	data, _ := json.Marshal(req)
	if _, err := conn.Write(append(data, '\n')); err != nil {
		conn.Close()
		return nil, nil, resp, fmt.Errorf("%w: %v", ErrGone, err)
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadBytes('\n')
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, nil, resp, ctx.Err()
		}
		return nil, nil, resp, fmt.Errorf("%w: %v", ErrGone, err)
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		conn.Close()
		return nil, nil, resp, fmt.Errorf("shim: bad response: %v", err)
	}
	if resp.Error != "" {
		conn.Close()
		return nil, nil, resp, classed(resp)
	}
	if !keep {
		conn.Close()
		return nil, nil, resp, nil
	}
	return conn, br, resp, nil
}

// Start lets the created container run.
func (c *Client) Start(ctx context.Context) error {
	_, _, _, err := c.call(ctx, Request{Op: "start"}, false)
	return err
}

// Wait blocks until the container exits.
func (c *Client) Wait(ctx context.Context) (Exit, error) {
	_, _, resp, err := c.call(ctx, Request{Op: "wait"}, false)
	return resp.Exit, err
}

// Stream is an attached or exec'd process's stdio: reads give the output
// (frames or raw), writes go to its stdin, CloseWrite ends the input.
type Stream struct {
	net.Conn
	r *bufio.Reader
}

func (s *Stream) Read(p []byte) (int, error) { return s.r.Read(p) }

// CloseWrite ends the process's input.
func (s *Stream) CloseWrite() error {
	if uc, ok := s.Conn.(*net.UnixConn); ok {
		return uc.CloseWrite()
	}
	return nil
}

// Attach joins the container's stdio.
func (c *Client) Attach(ctx context.Context, stdin, stdout, stderr bool) (*Stream, error) {
	conn, br, _, err := c.call(ctx, Request{Op: "attach", Stdin: stdin, Stdout: stdout, Stderr: stderr}, true)
	if err != nil {
		return nil, err
	}
	return &Stream{Conn: conn, r: br}, nil
}

// Exec starts a process and returns its stdio and pid.
func (c *Client) Exec(ctx context.Context, req Request) (*Stream, int, error) {
	req.Op = "exec"
	conn, br, resp, err := c.call(ctx, req, true)
	if err != nil {
		return nil, 0, err
	}
	return &Stream{Conn: conn, r: br}, resp.Pid, nil
}

// ExecWait blocks until the exec has exited.
func (c *Client) ExecWait(ctx context.Context, id string) (Exit, error) {
	_, _, resp, err := c.call(ctx, Request{Op: "execWait", ExecID: id}, false)
	return resp.Exit, err
}

// Kill signals the container's init, or with all every process in it.
func (c *Client) Kill(ctx context.Context, sig unix.Signal, all bool) error {
	_, _, _, err := c.call(ctx, Request{Op: "kill", Signal: int(sig), All: all}, false)
	return err
}

// Resize resizes the container's terminal, or an exec's with execID.
func (c *Client) Resize(ctx context.Context, execID string, width, height uint16) error {
	_, _, _, err := c.call(ctx, Request{Op: "resize", ExecID: execID, Width: width, Height: height}, false)
	return err
}

func classed(r Response) error {
	switch r.Class {
	case "notfound":
		return errdefs.NotFound("%s", r.Error)
	case "conflict":
		return errdefs.Conflict("%s", r.Error)
	case "invalid":
		return errdefs.Invalid("%s", r.Error)
	case "unavailable":
		return errdefs.Unavailable("%s", r.Error)
	case "forbidden":
		return errdefs.Forbidden("%s", r.Error)
	}
	return errors.New(r.Error)
}
