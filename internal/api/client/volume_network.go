package client

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
)

// VolumeInspectOptions has no options.
type VolumeInspectOptions struct{}

// VolumeInspectResult is the volume, decoded and as it came.
type VolumeInspectResult struct {
	Volume volume.Volume
	Raw    json.RawMessage
}

// VolumeInspect is GET /volumes/{name}.
func (c *Client) VolumeInspect(ctx context.Context, name string, _ VolumeInspectOptions) (VolumeInspectResult, error) {
	name, err := trimID("volume", name)
	if err != nil {
		return VolumeInspectResult{}, err
	}
	resp, err := c.get(ctx, "/volumes/"+name, nil)
	if err != nil {
		return VolumeInspectResult{}, err
	}
	var out VolumeInspectResult
	out.Raw, err = decodeRaw(resp, &out.Volume)
	return out, err
}

// NetworkInspectOptions selects the detail.
type NetworkInspectOptions struct {
	Scope   string
	Verbose bool
}

// NetworkInspectResult is the network, decoded and as it came.
type NetworkInspectResult struct {
	Network network.Inspect
	Raw     json.RawMessage
}

// NetworkInspect is GET /networks/{name}.
func (c *Client) NetworkInspect(ctx context.Context, name string, o NetworkInspectOptions) (NetworkInspectResult, error) {
	name, err := trimID("network", name)
	if err != nil {
		return NetworkInspectResult{}, err
	}
	query := url.Values{}
	if o.Verbose {
		query.Set("verbose", "true")
	}
	if o.Scope != "" {
		query.Set("scope", o.Scope)
	}
	resp, err := c.get(ctx, "/networks/"+name, query)
	if err != nil {
		return NetworkInspectResult{}, err
	}
	var out NetworkInspectResult
	out.Raw, err = decodeRaw(resp, &out.Network)
	return out, err
}
