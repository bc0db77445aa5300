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
	"syscall"

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

// Launch starts `exe shim dir` with o written to dir, detached in a session
// of its own so it outlives the daemon, and waits until the container is
// created. The shim's stderr goes to errLog.
func Launch(ctx context.Context, exe, dir, errLog string, o Options) (pid int, err error) {
	data, err := json.Marshal(o)
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigName), data, 0o600); err != nil {
		return 0, err
	}
	logf, err := os.OpenFile(errLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	cmd := exec.Command(exe, "shim", dir)
	cmd.Stderr = logf
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// The shim must not die with the daemon's context: no CommandContext.
	err = cmd.Start()
	w.Close()
	if err != nil {
		return 0, fmt.Errorf("starting the shim: %w", err)
	}
	// Reap it whenever it ends; after a daemon restart init does.
	go func() { _ = cmd.Wait() }()
	var resp Response
	if err := json.NewDecoder(bufio.NewReader(r)).Decode(&resp); err != nil {
		_ = cmd.Process.Kill()
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
