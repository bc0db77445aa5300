package client

import (
	"context"
	"net/url"

	"github.com/moby/moby/api/types/network"
)

// NetworkList is GET /networks with filters.
func (c *Client) NetworkList(ctx context.Context, filters Filters) ([]network.Summary, error) {
	query := url.Values{}
	filters.setQuery(query)
	resp, err := c.get(ctx, "/networks", query)
	if err != nil {
		return nil, err
	}
	var out []network.Summary
	return out, decode(resp, &out)
}

// NetworkCreate is POST /networks/create.
func (c *Client) NetworkCreate(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	resp, err := c.post(ctx, "/networks/create", nil, nil, req)
	if err != nil {
		return network.CreateResponse{}, err
	}
	var out network.CreateResponse
	return out, decode(resp, &out)
}

// NetworkRemove is DELETE /networks/{id}.
func (c *Client) NetworkRemove(ctx context.Context, name string) error {
	name, err := trimID("network", name)
	if err != nil {
		return err
	}
	resp, err := c.del(ctx, "/networks/"+name, nil)
	if err != nil {
		return err
	}
	closeBody(resp)
	return nil
}

// NetworkPrune is POST /networks/prune.
func (c *Client) NetworkPrune(ctx context.Context) (network.PruneReport, error) {
	resp, err := c.post(ctx, "/networks/prune", nil, nil, nil)
	if err != nil {
		return network.PruneReport{}, err
	}
	var out network.PruneReport
	return out, decode(resp, &out)
}

// NetworkConnect is POST /networks/{id}/connect (disconnect with
// disconnect set).
func (c *Client) NetworkConnect(ctx context.Context, name string, body any, disconnect bool) error {
	op := "/connect"
	if disconnect {
		op = "/disconnect"
	}
	resp, err := c.post(ctx, "/networks/"+url.PathEscape(name)+op, nil, nil, body)
	if err != nil {
		return err
	}
	closeBody(resp)
	return nil
}
