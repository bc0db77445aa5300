package client

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/moby/moby/api/types/container"
)

// ImageBuild is POST /build with a tar context: the daemon's JSON
// messages. ctx ending closes them.
func (c *Client) ImageBuild(ctx context.Context, context io.Reader, query url.Values) (*MessageStream, error) {
	resp, err := c.postRaw(ctx, "/build", query, http.Header{"Content-Type": {"application/x-tar"}}, context)
	if err != nil {
		return nil, err
	}
	return newMessageStream(newBodyReader(ctx, resp.Body)), nil
}

// ContainerCommit is POST /commit.
func (c *Client) ContainerCommit(ctx context.Context, query url.Values) (container.CommitResponse, error) {
	var out container.CommitResponse
	resp, err := c.post(ctx, "/commit", query, nil, nil)
	if err != nil {
		return out, err
	}
	return out, decode(resp, &out)
}
