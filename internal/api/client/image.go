package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"

	"github.com/moby/moby/api/types/image"
)

// ImageListOptions selects the images to list.
type ImageListOptions struct {
	All     bool
	Filters Filters
}

// ImageListResult is the list.
type ImageListResult struct {
	Items []image.Summary
}

// ImageList is GET /images/json.
func (c *Client) ImageList(ctx context.Context, o ImageListOptions) (ImageListResult, error) {
	query := url.Values{}
	o.Filters.setQuery(query)
	if o.All {
		query.Set("all", "1")
	}
	resp, err := c.get(ctx, "/images/json", query)
	if err != nil {
		return ImageListResult{}, err
	}
	var rows []imageListRow
	if err := decode(resp, &rows); err != nil {
		return ImageListResult{}, err
	}
	items := make([]image.Summary, len(rows))
	for i, r := range rows {
		items[i] = image.Summary{
			ID: r.ID, ParentID: r.ParentID, RepoTags: r.RepoTags, RepoDigests: r.RepoDigests,
			Created: r.Created, Size: r.Size, SharedSize: r.SharedSize, Containers: r.Containers, Labels: r.Labels,
		}
	}
	return ImageListResult{Items: items}, nil
}

// imageListRow is the part of image.Summary a listing shows. The rest
// (Manifests, Descriptor) is not decoded: encoding/json's first decode of
// image.Summary, nested types and all, cost 0.6–1 ms of every `gantry
// images`, four times the decoding of these fields.
type imageListRow struct {
	ID          string `json:"Id"`
	ParentID    string `json:"ParentId"`
	RepoTags    []string
	RepoDigests []string
	Created     int64
	Size        int64
	SharedSize  int64
	Containers  int64
	Labels      map[string]string
}

// ImageInspectOption is an option of ImageInspect.
type ImageInspectOption func(*imageInspectOptions)

type imageInspectOptions struct {
	raw *bytes.Buffer
}

// ImageInspectWithRawResponse also writes the response's body to raw.
func ImageInspectWithRawResponse(raw *bytes.Buffer) ImageInspectOption {
	return func(o *imageInspectOptions) { o.raw = raw }
}

// ImageInspectResult is the image.
type ImageInspectResult struct {
	image.InspectResponse
}

// ImageInspect is GET /images/{name}/json.
func (c *Client) ImageInspect(ctx context.Context, name string, opts ...ImageInspectOption) (ImageInspectResult, error) {
	if name == "" {
		return ImageInspectResult{}, notFoundError("Error: No such image: " + name)
	}
	var o imageInspectOptions
	for _, opt := range opts {
		opt(&o)
	}
	resp, err := c.get(ctx, "/images/"+name+"/json", url.Values{})
	if err != nil {
		return ImageInspectResult{}, err
	}
	defer closeBody(resp)
	buf := o.raw
	if buf == nil {
		buf = &bytes.Buffer{}
	}
	if _, err := io.Copy(buf, resp.Body); err != nil {
		return ImageInspectResult{}, err
	}
	var r ImageInspectResult
	err = json.Unmarshal(buf.Bytes(), &r)
	return r, err
}

// ImageHistoryResult is the image's layers' history, newest first.
type ImageHistoryResult struct {
	Items []image.HistoryResponseItem
}

// ImageHistory is GET /images/{name}/history.
func (c *Client) ImageHistory(ctx context.Context, name string) (ImageHistoryResult, error) {
	resp, err := c.get(ctx, "/images/"+name+"/history", url.Values{})
	if err != nil {
		return ImageHistoryResult{}, err
	}
	var r ImageHistoryResult
	err = decode(resp, &r.Items)
	return r, err
}

// ImageTagOptions tags Source (a name or ID) as Target (a normalised
// reference without digest; "latest" when it has no tag).
type ImageTagOptions struct {
	Source string
	Target string
}

// ImageTag is POST /images/{source}/tag.
func (c *Client) ImageTag(ctx context.Context, o ImageTagOptions) (ContainerResult, error) {
	name, tag, _ := splitReference(o.Target)
	if tag == "" {
		tag = "latest"
	}
	resp, err := c.post(ctx, "/images/"+o.Source+"/tag", url.Values{"repo": {name}, "tag": {tag}}, nil, nil)
	closeBody(resp)
	return ContainerResult{}, err
}

// ImageRemoveOptions is a removal.
type ImageRemoveOptions struct {
	Force         bool
	PruneChildren bool
}

// ImageRemoveResult lists what was untagged and deleted.
type ImageRemoveResult struct {
	Items []image.DeleteResponse
}

// ImageRemove is DELETE /images/{name}.
func (c *Client) ImageRemove(ctx context.Context, name string, o ImageRemoveOptions) (ImageRemoveResult, error) {
	query := url.Values{}
	if o.Force {
		query.Set("force", "1")
	}
	if !o.PruneChildren {
		query.Set("noprune", "1")
	}
	resp, err := c.del(ctx, "/images/"+name, query)
	if err != nil {
		return ImageRemoveResult{}, err
	}
	var r ImageRemoveResult
	err = decode(resp, &r.Items)
	return r, err
}

// ImagePruneOptions selects the images to prune.
type ImagePruneOptions struct {
	Filters Filters
}

// ImagePruneResult is what was pruned.
type ImagePruneResult struct {
	Report image.PruneReport
}

// ImagePrune is POST /images/prune.
func (c *Client) ImagePrune(ctx context.Context, o ImagePruneOptions) (ImagePruneResult, error) {
	query := url.Values{}
	o.Filters.setQuery(query)
	resp, err := c.post(ctx, "/images/prune", query, nil, nil)
	if err != nil {
		return ImagePruneResult{}, err
	}
	var r ImagePruneResult
	if err := decode(resp, &r.Report); err != nil {
		return ImagePruneResult{}, fmt.Errorf("Error retrieving disk usage: %v", err)
	}
	return r, nil
}
