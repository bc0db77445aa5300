package client

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/moby/moby/api/types/container"
)

// ContainerInspectOptions asks for the sizes too with Size.
type ContainerInspectOptions struct {
	Size bool
}

// ContainerInspectResult is the container, decoded and as it came.
type ContainerInspectResult struct {
	Container container.InspectResponse
	Raw       json.RawMessage
}

// ContainerInspect is GET /containers/{id}/json.
func (c *Client) ContainerInspect(ctx context.Context, id string, o ContainerInspectOptions) (ContainerInspectResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return ContainerInspectResult{}, err
	}
	query := url.Values{}
	if o.Size {
		query.Set("size", "1")
	}
	resp, err := c.get(ctx, "/containers/"+id+"/json", query)
	if err != nil {
		return ContainerInspectResult{}, err
	}
	var out ContainerInspectResult
	out.Raw, err = decodeRaw(resp, &out.Container)
	return out, err
}
