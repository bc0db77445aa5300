package client

import (
	"context"
	"net/http"
	"net/url"
)

// ContainerAttachOptions says which streams to attach.
type ContainerAttachOptions struct {
	Stream     bool
	Stdin      bool
	Stdout     bool
	Stderr     bool
	DetachKeys string
	Logs       bool
}

// ContainerAttachResult is the attached connection.
type ContainerAttachResult struct {
	HijackedResponse
}

// ContainerAttach is POST /containers/{id}/attach, upgraded to a raw
// stream: multiplexed output without a TTY, raw with one.
func (c *Client) ContainerAttach(ctx context.Context, id string, o ContainerAttachOptions) (ContainerAttachResult, error) {
	id, err := trimID("container", id)
	if err != nil {
		return ContainerAttachResult{}, err
	}
	query := url.Values{}
	for _, f := range []struct {
		on   bool
		name string
	}{{o.Stream, "stream"}, {o.Stdin, "stdin"}, {o.Stdout, "stdout"}, {o.Stderr, "stderr"}, {o.Logs, "logs"}} {
		if f.on {
			query.Set(f.name, "1")
		}
	}
	if o.DetachKeys != "" {
		query.Set("detachKeys", o.DetachKeys)
	}
	h, err := c.postHijacked(ctx, "/containers/"+id+"/attach", query, http.Header{"Content-Type": {"text/plain"}}, nil)
	if err != nil {
		return ContainerAttachResult{}, err
	}
	return ContainerAttachResult{HijackedResponse: h}, nil
}
