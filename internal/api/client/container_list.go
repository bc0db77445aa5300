package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/moby/moby/api/types/container"
)

// ContainerListOptions selects the containers to list.
type ContainerListOptions struct {
	Size    bool
	All     bool
	Limit   int
	Filters Filters
}

// ContainerListResult is the list.
type ContainerListResult struct {
	Items []container.Summary
}

// ContainerList is GET /containers/json.
func (c *Client) ContainerList(ctx context.Context, o ContainerListOptions) (ContainerListResult, error) {
	query := url.Values{}
	if o.All {
		query.Set("all", "1")
	}
	if o.Limit > 0 {
		query.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Size {
		query.Set("size", "1")
	}
	o.Filters.setQuery(query)
	resp, err := c.get(ctx, "/containers/json", query)
	if err != nil {
		return ContainerListResult{}, err
	}
	var items []container.Summary
	err = decode(resp, &items)
	return ContainerListResult{Items: items}, err
}
