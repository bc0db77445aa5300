package client

import (
	"context"
	"net/http"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
)

// ConsoleSize is a terminal size, height first.
type ConsoleSize struct {
	Height, Width uint
}

// ExecCreateOptions is a process to run in a container.
type ExecCreateOptions struct {
	User         string
	Privileged   bool
	TTY          bool
	ConsoleSize  ConsoleSize // with TTY only
	AttachStdin  bool
	AttachStderr bool
	AttachStdout bool
	DetachKeys   string
	Env          []string
	WorkingDir   string
	Cmd          []string
}

// ExecCreateResult is the new exec.
type ExecCreateResult struct {
	ID string
}

// ExecStartOptions starts an exec detached.
type ExecStartOptions struct {
	Detach      bool
	TTY         bool
	ConsoleSize ConsoleSize
}

// ExecAttachOptions starts an exec attached.
type ExecAttachOptions struct {
	TTY         bool
	ConsoleSize ConsoleSize
}

// ExecAttachResult is the attached connection.
type ExecAttachResult struct {
	HijackedResponse
}

// ExecInspectOptions has no options.
type ExecInspectOptions struct{}

// ExecInspectResult is the exec's state.
type ExecInspectResult struct {
	ID          string
	ContainerID string
	Running     bool
	ExitCode    int
	PID         int
}

// ExecCreate is POST /containers/{id}/exec.
func (c *Client) ExecCreate(ctx context.Context, id string, o ExecCreateOptions) (ExecCreateResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return ExecCreateResult{}, err
	}
	size, err := consoleSize(o.TTY, o.ConsoleSize)
	if err != nil {
		return ExecCreateResult{}, err
	}
	resp, err := c.post(ctx, "/containers/"+id+"/exec", nil, nil, container.ExecCreateRequest{
		User:         o.User,
		Privileged:   o.Privileged,
		Tty:          o.TTY,
		ConsoleSize:  size,
		AttachStdin:  o.AttachStdin,
		AttachStderr: o.AttachStderr,
		AttachStdout: o.AttachStdout,
		DetachKeys:   o.DetachKeys,
		Env:          o.Env,
		WorkingDir:   o.WorkingDir,
		Cmd:          o.Cmd,
	})
	if err != nil {
		return ExecCreateResult{}, err
	}
	var r container.ExecCreateResponse
	err = decode(resp, &r)
	return ExecCreateResult{ID: r.ID}, err
}

// ExecStart is POST /exec/{id}/start, for a detached exec.
func (c *Client) ExecStart(ctx context.Context, id string, o ExecStartOptions) (ContainerResult, error) {
	size, err := consoleSize(o.TTY, o.ConsoleSize)
	if err != nil {
		return ContainerResult{}, err
	}
	resp, err := c.post(ctx, "/exec/"+id+"/start", nil, nil, container.ExecStartRequest{
		Detach: o.Detach, Tty: o.TTY, ConsoleSize: size,
	})
	closeBody(resp)
	return ContainerResult{}, err
}

// ExecAttach is POST /exec/{id}/start, upgraded to a raw stream.
func (c *Client) ExecAttach(ctx context.Context, id string, o ExecAttachOptions) (ExecAttachResult, error) {
	size, err := consoleSize(o.TTY, o.ConsoleSize)
	if err != nil {
		return ExecAttachResult{}, err
	}
	h, err := c.postHijacked(ctx, "/exec/"+id+"/start", nil, http.Header{"Content-Type": {"application/json"}},
		container.ExecStartRequest{Tty: o.TTY, ConsoleSize: size})
	return ExecAttachResult{HijackedResponse: h}, err
}

// ExecInspect is GET /exec/{id}/json.
func (c *Client) ExecInspect(ctx context.Context, id string, _ ExecInspectOptions) (ExecInspectResult, error) {
	resp, err := c.get(ctx, "/exec/"+id+"/json", nil)
	if err != nil {
		return ExecInspectResult{}, err
	}
	var r container.ExecInspectResponse
	if err := decode(resp, &r); err != nil {
		return ExecInspectResult{}, err
	}
	var code int
	if r.ExitCode != nil {
		code = *r.ExitCode
	}
	return ExecInspectResult{ID: r.ID, ContainerID: r.ContainerID, Running: r.Running, ExitCode: code, PID: r.Pid}, nil
}

// consoleSize is the API's [height, width], nil when unset.
func consoleSize(tty bool, s ConsoleSize) (*[2]uint, error) {
	if s.Height == 0 && s.Width == 0 {
		return nil, nil
	}
	if !tty {
		return nil, cerrdefs.ErrInvalidArgument.WithMessage("console size is only supported when TTY is enabled")
	}
	return &[2]uint{s.Height, s.Width}, nil
}
