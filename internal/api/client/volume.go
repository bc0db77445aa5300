package client

import (
	"context"
	"net/url"

	"github.com/moby/moby/api/types/volume"
)

// VolumeCreateOptions is a volume create.
type VolumeCreateOptions = volume.CreateRequest

// VolumeCreate is POST /volumes/create.
func (c *Client) VolumeCreate(ctx context.Context, o VolumeCreateOptions) (volume.Volume, error) {
	resp, err := c.post(ctx, "/volumes/create", nil, nil, o)
	if err != nil {
		return volume.Volume{}, err
	}
	var v volume.Volume
	err = decode(resp, &v)
	return v, err
}

// VolumeListOptions selects the volumes to list.
type VolumeListOptions struct {
	Filters Filters
}

// VolumeList is GET /volumes.
func (c *Client) VolumeList(ctx context.Context, o VolumeListOptions) (volume.ListResponse, error) {
	query := url.Values{}
	o.Filters.setQuery(query)
	resp, err := c.get(ctx, "/volumes", query)
	if err != nil {
		return volume.ListResponse{}, err
	}
	var r volume.ListResponse
	err = decode(resp, &r)
	return r, err
}

// VolumeRemove is DELETE /volumes/{name}.
func (c *Client) VolumeRemove(ctx context.Context, name string, force bool) error {
	name, err := trimID("volume", name)
	if err != nil {
		return err
	}
	query := url.Values{}
	if force {
		query.Set("force", "1")
	}
	resp, err := c.del(ctx, "/volumes/"+name, query)
	closeBody(resp)
	return err
}

// VolumePrune is POST /volumes/prune.
func (c *Client) VolumePrune(ctx context.Context, filters Filters) (volume.PruneReport, error) {
	query := url.Values{}
	filters.setQuery(query)
	resp, err := c.post(ctx, "/volumes/prune", query, nil, nil)
	if err != nil {
		return volume.PruneReport{}, err
	}
	var r volume.PruneReport
	err = decode(resp, &r)
	return r, err
}
