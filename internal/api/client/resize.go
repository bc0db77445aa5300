package client

import (
	"context"
	"net/url"
	"strconv"
)

// ContainerResizeOptions is a terminal size.
type ContainerResizeOptions struct {
	Height uint
	Width  uint
}

// ExecResizeOptions is an exec's terminal size.
type ExecResizeOptions ContainerResizeOptions

// ContainerResize is POST /containers/{id}/resize.
func (c *Client) ContainerResize(ctx context.Context, id string, o ContainerResizeOptions) (ContainerResult, error) {
	return c.resize(ctx, "container", "/containers/", id, o)
}

// ExecResize is POST /exec/{id}/resize.
func (c *Client) ExecResize(ctx context.Context, id string, o ExecResizeOptions) (ContainerResult, error) {
	return c.resize(ctx, "exec", "/exec/", id, ContainerResizeOptions(o))
}

func (c *Client) resize(ctx context.Context, kind, prefix, id string, o ContainerResizeOptions) (ContainerResult, error) {
	id, err := trimID(kind, id)
	if err != nil {
		return ContainerResult{}, err
	}
	query := url.Values{
		"h": {strconv.FormatUint(uint64(o.Height), 10)},
		"w": {strconv.FormatUint(uint64(o.Width), 10)},
	}
	resp, err := c.post(ctx, prefix+id+"/resize", query, nil, nil)
	closeBody(resp)
	return ContainerResult{}, err
}
