package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
)

// ImageBuildWithHeader is POST /build with extra request headers (gantry's
// build secrets).
func (c *Client) ImageBuildWithHeader(ctx context.Context, body io.Reader, query url.Values, hdr http.Header) (*MessageStream, error) {
	h := http.Header{"Content-Type": {"application/x-tar"}}
	for k, v := range hdr {
		h[k] = v
	}
	resp, err := c.postRaw(ctx, "/build", query, h, body)
	if err != nil {
		return nil, err
	}
	return newMessageStream(newBodyReader(ctx, resp.Body)), nil
}
