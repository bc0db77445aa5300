package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"

	"github.com/moby/moby/api/types/container"
)

// ContainerWaitOptions says what to wait for (the exit when empty).
type ContainerWaitOptions struct {
	Condition container.WaitCondition
}

// ContainerWaitResult delivers the wait's outcome on one of its channels.
type ContainerWaitResult struct {
	Result <-chan container.WaitResponse
	Error  <-chan error
}

// ContainerWait is POST /containers/{id}/wait. It returns once the daemon
// answered the request's headers, that is once the wait is in place; the
// outcome comes later, on the channels.
func (c *Client) ContainerWait(ctx context.Context, id string, o ContainerWaitOptions) ContainerWaitResult {
	resultC := make(chan container.WaitResponse)
	errC := make(chan error, 1)
	res := ContainerWaitResult{Result: resultC, Error: errC}
	id, err := trimID("container", id)
	if err != nil {
		errC <- err
		return res
	}
	query := url.Values{}
	if o.Condition != "" {
		query.Set("condition", string(o.Condition))
	}
	resp, err := c.post(ctx, "/containers/"+id+"/wait", query, nil, nil)
	if err != nil {
		errC <- err
		return res
	}
	go func() {
		defer closeBody(resp)
		var text bytes.Buffer
		body := io.TeeReader(resp.Body, &text)
		var r container.WaitResponse
		if err := json.NewDecoder(body).Decode(&r); err != nil {
			if errors.As(err, new(*json.SyntaxError)) {
				// Not JSON: the daemon's words, up to 2 KiB.
				_, _ = io.ReadAll(io.LimitReader(body, 2<<10))
				err = errors.New(text.String())
			}
			errC <- err
			return
		}
		resultC <- r
	}()
	return res
}
