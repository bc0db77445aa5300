package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"path"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImageSave is GET /images/get: the images as one tar archive. ctx ending
// closes it.
func (c *Client) ImageSave(ctx context.Context, names []string) (io.ReadCloser, error) {
	resp, err := c.get(ctx, "/images/get", url.Values{"names": names})
	if err != nil {
		return nil, err
	}
	return newBodyReader(ctx, resp.Body), nil
}

// ImageLoadOption is an option of ImageLoad.
type ImageLoadOption func(*imageLoadOptions)

type imageLoadOptions struct {
	quiet bool
}

// ImageLoadWithQuiet asks for no progress bars.
func ImageLoadWithQuiet(quiet bool) ImageLoadOption {
	return func(o *imageLoadOptions) { o.quiet = quiet }
}

// ImageLoad is POST /images/load with a tar archive: the daemon's JSON
// messages. ctx ending closes them.
func (c *Client) ImageLoad(ctx context.Context, in io.Reader, opts ...ImageLoadOption) (io.ReadCloser, error) {
	var o imageLoadOptions
	for _, opt := range opts {
		opt(&o)
	}
	query := url.Values{"quiet": {"0"}}
	if o.quiet {
		query.Set("quiet", "1")
	}
	resp, err := c.postRaw(ctx, "/images/load", query, http.Header{"Content-Type": {"application/x-tar"}}, in)
	if err != nil {
		return nil, err
	}
	return newBodyReader(ctx, resp.Body), nil
}

// ImageImportSource is what to import: Source's content with SourceName
// "-", else the URL in SourceName.
type ImageImportSource struct {
	Source     io.Reader
	SourceName string
}

// ImageImportOptions is an import.
type ImageImportOptions struct {
	Tag      string
	Message  string
	Changes  []string
	Platform ocispec.Platform
}

// ImageImport is POST /images/create?fromSrc=: ref (may be empty) names
// the new image. The result is the daemon's JSON messages.
func (c *Client) ImageImport(ctx context.Context, src ImageImportSource, ref string, o ImageImportOptions) (io.ReadCloser, error) {
	query := url.Values{}
	if src.SourceName != "" {
		query.Set("fromSrc", src.SourceName)
	}
	if ref != "" {
		query.Set("repo", ref)
	}
	if o.Tag != "" {
		query.Set("tag", o.Tag)
	}
	if o.Message != "" {
		query.Set("message", o.Message)
	}
	if o.Platform.OS != "" {
		query.Set("platform", path.Join(o.Platform.OS, o.Platform.Architecture, o.Platform.Variant))
	}
	for _, ch := range o.Changes {
		query.Add("changes", ch)
	}
	resp, err := c.postRaw(ctx, "/images/create", query, nil, src.Source)
	if err != nil {
		return nil, err
	}
	return newBodyReader(ctx, resp.Body), nil
}
