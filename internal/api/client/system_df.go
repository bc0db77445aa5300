package client

import (
	"context"
	"fmt"
	"net/url"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/volume"
)

// DiskUsage is GET /system/df's answer (API 1.51's shape), with gantry's
// container logs sizes when the daemon is gantry.
type DiskUsage struct {
	LayersSize        int64
	Images            []image.Summary
	Containers        []container.Summary
	Volumes           []*volume.Volume
	BuildCache        []*build.CacheRecord
	ContainerLogsSize map[string]int64 `json:",omitempty"`
}

// DiskUsage is GET /system/df; types limits it ("container", "image",
// "volume", "build-cache").
func (c *Client) DiskUsage(ctx context.Context, types ...string) (DiskUsage, error) {
	query := url.Values{}
	for _, t := range types {
		query.Add("type", t)
	}
	resp, err := c.get(ctx, "/system/df", query)
	if err != nil {
		return DiskUsage{}, err
	}
	var du DiskUsage
	if err := decode(resp, &du); err != nil {
		return DiskUsage{}, fmt.Errorf("Error retrieving disk usage: %v", err)
	}
	return du, nil
}

// ContainersPrune is POST /containers/prune.
func (c *Client) ContainersPrune(ctx context.Context, filters Filters) (container.PruneReport, error) {
	query := url.Values{}
	filters.setQuery(query)
	resp, err := c.post(ctx, "/containers/prune", query, nil, nil)
	if err != nil {
		return container.PruneReport{}, err
	}
	var r container.PruneReport
	if err := decode(resp, &r); err != nil {
		return container.PruneReport{}, fmt.Errorf("Error retrieving disk usage: %v", err)
	}
	return r, nil
}

// Prune is POST /{area}/prune for the areas gantry may or may not serve
// yet (networks, volumes, build cache): the report as JSON into out.
func (c *Client) Prune(ctx context.Context, area string, filters Filters, out any) error {
	query := url.Values{}
	filters.setQuery(query)
	resp, err := c.post(ctx, "/"+area+"/prune", query, nil, nil)
	if err != nil {
		return err
	}
	return decode(resp, out)
}

// BuildCachePrune is POST /build/prune (all: every record, not only the
// unused ones).
func (c *Client) BuildCachePrune(ctx context.Context, all bool, filters Filters, out any) error {
	query := url.Values{}
	if all {
		query.Set("all", "1")
	}
	filters.setQuery(query)
	resp, err := c.post(ctx, "/build/prune", query, nil, nil)
	if err != nil {
		return err
	}
	return decode(resp, out)
}
