package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/moby/moby/api/types/container"
)

// pathStat decodes the X-Docker-Container-Path-Stat header.
func pathStat(h http.Header) (container.PathStat, error) {
	var st container.PathStat
	v := h.Get("X-Docker-Container-Path-Stat")
	if v == "" {
		return st, nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return st, fmt.Errorf("unable to decode container path stat header: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("unable to decode container path stat header: %w", err)
	}
	return st, nil
}

// ContainerStatPath is HEAD /containers/{id}/archive: what a path is in
// the container.
func (c *Client) ContainerStatPath(ctx context.Context, id, p string) (container.PathStat, error) {
	id, err := trimID("container", id)
	if err != nil {
		return container.PathStat{}, err
	}
	resp, err := c.send(ctx, http.MethodHead, "/containers/"+id+"/archive", url.Values{"path": {p}}, nil, nil)
	if err != nil {
		return container.PathStat{}, err
	}
	defer closeBody(resp)
	return pathStat(resp.Header)
}

// CopyFromContainer is GET /containers/{id}/archive: a tar of the path
// and its stat. The caller closes the stream.
func (c *Client) CopyFromContainer(ctx context.Context, id, p string) (io.ReadCloser, container.PathStat, error) {
	id, err := trimID("container", id)
	if err != nil {
		return nil, container.PathStat{}, err
	}
	resp, err := c.get(ctx, "/containers/"+id+"/archive", url.Values{"path": {p}})
	if err != nil {
		return nil, container.PathStat{}, err
	}
	st, err := pathStat(resp.Header)
	if err != nil {
		closeBody(resp)
		return nil, container.PathStat{}, err
	}
	return resp.Body, st, nil
}

// CopyToContainerOptions are PUT /containers/{id}/archive's parameters.
type CopyToContainerOptions struct {
	AllowOverwriteDirWithFile bool
	CopyUIDGID                bool
}

// CopyToContainer is PUT /containers/{id}/archive: the tar content
// unpacked into the directory p of the container.
func (c *Client) CopyToContainer(ctx context.Context, id, p string, content io.Reader, o CopyToContainerOptions) error {
	id, err := trimID("container", id)
	if err != nil {
		return err
	}
	query := url.Values{"path": {p}}
	if !o.AllowOverwriteDirWithFile {
		query.Set("noOverwriteDirNonDir", "true")
	}
	if o.CopyUIDGID {
		query.Set("copyUIDGID", "true")
	}
	resp, err := c.send(ctx, http.MethodPut, "/containers/"+id+"/archive", query, http.Header{"Content-Type": {"application/x-tar"}}, content)
	if err != nil {
		return err
	}
	closeBody(resp)
	return nil
}

// ContainerDiff is GET /containers/{id}/changes.
func (c *Client) ContainerDiff(ctx context.Context, id string) ([]container.FilesystemChange, error) {
	id, err := trimID("container", id)
	if err != nil {
		return nil, err
	}
	resp, err := c.get(ctx, "/containers/"+id+"/changes", url.Values{})
	if err != nil {
		return nil, err
	}
	var changes []container.FilesystemChange
	err = decode(resp, &changes)
	return changes, err
}

// ContainerExport is GET /containers/{id}/export: the container's files
// as a tar. The caller closes the stream.
func (c *Client) ContainerExport(ctx context.Context, id string) (io.ReadCloser, error) {
	id, err := trimID("container", id)
	if err != nil {
		return nil, err
	}
	resp, err := c.get(ctx, "/containers/"+id+"/export", url.Values{})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
