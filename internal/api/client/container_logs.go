package client

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"time"
)

// ContainerLogsOptions selects the log lines. Since and Until take what
// `docker logs` takes: a duration ago, an RFC 3339 time or date, or Unix
// seconds.
type ContainerLogsOptions struct {
	ShowStdout bool
	ShowStderr bool
	Since      string
	Until      string
	Timestamps bool
	Follow     bool
	Tail       string
	Details    bool
}

// ContainerLogs is GET /containers/{id}/logs: the log stream, multiplexed
// unless the container has a TTY. ctx ending closes it.
func (c *Client) ContainerLogs(ctx context.Context, id string, o ContainerLogsOptions) (io.ReadCloser, error) {
	id, err := trimID("container", id)
	if err != nil {
		return nil, err
	}
	query := url.Values{}
	if o.ShowStdout {
		query.Set("stdout", "1")
	}
	if o.ShowStderr {
		query.Set("stderr", "1")
	}
	now := time.Now()
	if o.Since != "" {
		ts, err := apiTimestamp(o.Since, now)
		if err != nil {
			return nil, fmt.Errorf(`invalid value for "since": %w`, err)
		}
		query.Set("since", ts)
	}
	if o.Until != "" {
		ts, err := apiTimestamp(o.Until, now)
		if err != nil {
			return nil, fmt.Errorf(`invalid value for "until": %w`, err)
		}
		query.Set("until", ts)
	}
	if o.Timestamps {
		query.Set("timestamps", "1")
	}
	if o.Details {
		query.Set("details", "1")
	}
	if o.Follow {
		query.Set("follow", "1")
	}
	if o.Tail != "" && o.Tail != "all" {
		query.Set("tail", o.Tail)
	}
	resp, err := c.get(ctx, "/containers/"+id+"/logs", query)
	if err != nil {
		return nil, err
	}
	return newBodyReader(ctx, resp.Body), nil
}
