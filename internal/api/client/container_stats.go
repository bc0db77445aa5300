package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"net/url"

	"github.com/moby/moby/api/types/container"
)

// ContainerStatsOptions chooses one sample or a stream of them.
type ContainerStatsOptions struct {
	Stream  bool
	OneShot bool
}

// ContainerStats is GET /containers/{id}/stats: the samples as they come
// (one unless Stream); ctx ending ends the stream.
func (c *Client) ContainerStats(ctx context.Context, id string, o ContainerStatsOptions) (iter.Seq2[*container.StatsResponse, error], error) {
	id, err := trimID("container", id)
	if err != nil {
		return nil, err
	}
	query := url.Values{}
	query.Set("stream", "0")
	if o.Stream {
		query.Set("stream", "1")
	}
	if o.OneShot {
		query.Set("one-shot", "1")
	}
	resp, err := c.get(ctx, "/containers/"+id+"/stats", query)
	if err != nil {
		return nil, err
	}
	return func(yield func(*container.StatsResponse, error) bool) {
		defer closeBody(resp)
		dec := json.NewDecoder(resp.Body)
		for {
			var st container.StatsResponse
			if err := dec.Decode(&st); err != nil {
				if ctx.Err() == nil && !errors.Is(err, io.EOF) {
					yield(nil, err)
				}
				return
			}
			if !yield(&st, nil) {
				return
			}
		}
	}, nil
}

// ContainerUpdate is POST /containers/{id}/update.
func (c *Client) ContainerUpdate(ctx context.Context, id string, cfg container.UpdateConfig) (container.UpdateResponse, error) {
	id, err := trimID("container", id)
	if err != nil {
		return container.UpdateResponse{}, err
	}
	resp, err := c.post(ctx, "/containers/"+id+"/update", nil, nil, cfg)
	if err != nil {
		return container.UpdateResponse{}, err
	}
	var r container.UpdateResponse
	err = decode(resp, &r)
	return r, err
}
