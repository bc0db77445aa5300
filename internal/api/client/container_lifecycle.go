package client

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
)

// ContainerStartOptions starts a container (from a checkpoint).
type ContainerStartOptions struct {
	CheckpointID  string
	CheckpointDir string
}

// ContainerStopOptions stops a container: Signal first (the container's
// stop signal when empty), SIGKILL after Timeout seconds (the container's
// timeout when nil).
type ContainerStopOptions struct {
	Signal  string
	Timeout *int
}

// ContainerRestartOptions restarts a container; the stop is as in
// ContainerStopOptions.
type ContainerRestartOptions ContainerStopOptions

// ContainerKillOptions kills a container with Signal (SIGKILL if empty).
type ContainerKillOptions struct {
	Signal string
}

// ContainerRemoveOptions removes a container.
type ContainerRemoveOptions struct {
	RemoveVolumes bool
	RemoveLinks   bool
	Force         bool
}

// ContainerRenameOptions renames a container.
type ContainerRenameOptions struct {
	NewName string
}

// ContainerPauseOptions and ContainerUnpauseOptions have no options.
type (
	ContainerPauseOptions   struct{}
	ContainerUnpauseOptions struct{}
)

// ContainerResult is the empty result of the calls that return nothing.
type ContainerResult struct{}

// ContainerStart is POST /containers/{id}/start.
func (c *Client) ContainerStart(ctx context.Context, id string, o ContainerStartOptions) (ContainerResult, error) {
	query := url.Values{}
	if o.CheckpointID != "" {
		query.Set("checkpoint", o.CheckpointID)
	}
	if o.CheckpointDir != "" {
		query.Set("checkpoint-dir", o.CheckpointDir)
	}
	return c.containerPost(ctx, id, "start", query)
}

// ContainerStop is POST /containers/{id}/stop.
func (c *Client) ContainerStop(ctx context.Context, id string, o ContainerStopOptions) (ContainerResult, error) {
	return c.containerPost(ctx, id, "stop", stopQuery(o))
}

// ContainerRestart is POST /containers/{id}/restart.
func (c *Client) ContainerRestart(ctx context.Context, id string, o ContainerRestartOptions) (ContainerResult, error) {
	return c.containerPost(ctx, id, "restart", stopQuery(ContainerStopOptions(o)))
}

func stopQuery(o ContainerStopOptions) url.Values {
	query := url.Values{}
	if o.Timeout != nil {
		query.Set("t", strconv.Itoa(*o.Timeout))
	}
	if o.Signal != "" {
		query.Set("signal", o.Signal)
	}
	return query
}

// ContainerKill is POST /containers/{id}/kill.
func (c *Client) ContainerKill(ctx context.Context, id string, o ContainerKillOptions) (ContainerResult, error) {
	query := url.Values{}
	if o.Signal != "" {
		query.Set("signal", o.Signal)
	}
	return c.containerPost(ctx, id, "kill", query)
}

// ContainerPause is POST /containers/{id}/pause.
func (c *Client) ContainerPause(ctx context.Context, id string, _ ContainerPauseOptions) (ContainerResult, error) {
	return c.containerPost(ctx, id, "pause", nil)
}

// ContainerUnpause is POST /containers/{id}/unpause.
func (c *Client) ContainerUnpause(ctx context.Context, id string, _ ContainerUnpauseOptions) (ContainerResult, error) {
	return c.containerPost(ctx, id, "unpause", nil)
}

// ContainerRename is POST /containers/{id}/rename.
func (c *Client) ContainerRename(ctx context.Context, id string, o ContainerRenameOptions) (ContainerResult, error) {
	name := strings.TrimSpace(o.NewName)
	if strings.TrimPrefix(name, "/") == "" {
		if _, err := trimID("container", id); err != nil {
			return ContainerResult{}, err
		}
		return ContainerResult{}, cerrdefs.ErrInvalidArgument.WithMessage("new name cannot be blank")
	}
	return c.containerPost(ctx, id, "rename", url.Values{"name": {name}})
}

// ContainerRemove is DELETE /containers/{id}.
func (c *Client) ContainerRemove(ctx context.Context, id string, o ContainerRemoveOptions) (ContainerResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return ContainerResult{}, err
	}
	query := url.Values{}
	if o.RemoveVolumes {
		query.Set("v", "1")
	}
	if o.RemoveLinks {
		query.Set("link", "1")
	}
	if o.Force {
		query.Set("force", "1")
	}
	resp, err := c.del(ctx, "/containers/"+id, query)
	closeBody(resp)
	return ContainerResult{}, err
}

// containerPost is a body-less POST /containers/{id}/{action}.
func (c *Client) containerPost(ctx context.Context, id, action string, query url.Values) (ContainerResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return ContainerResult{}, err
	}
	resp, err := c.post(ctx, "/containers/"+id+"/"+action, query, nil, nil)
	closeBody(resp)
	return ContainerResult{}, err
}
