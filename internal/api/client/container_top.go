package client

import (
	"context"
	"net/url"
	"strings"

	"github.com/moby/moby/api/types/container"
)

// ContainerTopOptions passes Arguments to ps.
type ContainerTopOptions struct {
	Arguments []string
}

// ContainerTopResult is ps's table.
type ContainerTopResult struct {
	Processes [][]string
	Titles    []string
}

// ContainerTop is GET /containers/{id}/top.
func (c *Client) ContainerTop(ctx context.Context, id string, o ContainerTopOptions) (ContainerTopResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return ContainerTopResult{}, err
	}
	query := url.Values{}
	if len(o.Arguments) > 0 {
		query.Set("ps_args", strings.Join(o.Arguments, " "))
	}
	resp, err := c.get(ctx, "/containers/"+id+"/top", query)
	if err != nil {
		return ContainerTopResult{}, err
	}
	var r container.TopResponse
	err = decode(resp, &r)
	return ContainerTopResult{Processes: r.Processes, Titles: r.Titles}, err
}
