package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/opencontainers/go-digest"
)

// FetchBlob streams blob d from ref's repository starting at offset (HTTP
// Range, for resuming). It returns the offset the server honoured: 0 if it
// ignored the Range, so the caller restarts its hash. The body is the HTTP
// response body itself (no buffering, no copy); the caller verifies the
// digest and closes it.
func (c *Client) FetchBlob(ctx context.Context, ref Reference, d digest.Digest, offset int64) (io.ReadCloser, int64, error) {
	if err := ref.check(); err != nil {
		return nil, 0, err
	}
	if err := d.Validate(); err != nil {
		return nil, 0, errdefs.Invalid("invalid blob digest %q: %v", d, err)
	}
	if offset < 0 {
		return nil, 0, errdefs.Invalid("invalid blob offset %d", offset)
	}
	o := op{action: "pull", ref: ref, domain: ref.Domain()}
	rt, err := c.transport(ctx, ref.Domain(), []string{pullScope(ref.Path())})
	if err != nil {
		return nil, 0, o.fail(err)
	}
	hc := &http.Client{Transport: rt}
	u := c.v2URL(ref.Domain(), ref.Path()+"/blobs/"+d.String())

	var rangeHeader string
	if offset > 0 {
		// An explicit end: some registries (go-containerregistry's among
		// them) refuse the open-ended "bytes=N-". Resuming is rare enough
		// for the extra round trip.
		size, found, err := headBlob(ctx, hc, u)
		if err != nil {
			return nil, 0, o.fail(err)
		}
		if !found {
			return nil, 0, errdefs.NotFound("blob %s not found in %s", d, ref.FamiliarName())
		}
		switch {
		case size >= 0 && offset == size:
			return io.NopCloser(strings.NewReader("")), offset, nil
		case size >= 0 && offset > size:
			return nil, 0, errdefs.Invalid("blob %s: offset %d is past its size %d", d, offset, size)
		case size >= 0:
			rangeHeader = fmt.Sprintf("bytes=%d-%d", offset, size-1)
		default:
			rangeHeader = fmt.Sprintf("bytes=%d-", offset)
		}
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, errdefs.Invalid("blob %s: %v", d, err)
	}
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, o.fail(err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.Body, 0, nil
	case http.StatusPartialContent:
		start, ok := contentRangeStart(resp.Header.Get("Content-Range"))
		if offset == 0 && !ok {
			return resp.Body, 0, nil
		}
		if !ok || start != offset {
			resp.Body.Close()
			return nil, 0, errdefs.Invalid("blob %s: registry answered range %q for offset %d", d, resp.Header.Get("Content-Range"), offset)
		}
		return resp.Body, start, nil
	}
	defer resp.Body.Close()
	se := readStatusError(resp)
	if se.status == http.StatusNotFound {
		return nil, 0, errdefs.NotFound("blob %s not found in %s: %s", d, ref.FamiliarName(), orStatus(se))
	}
	return nil, 0, o.fail(se)
}

// contentRangeStart reads the first byte position of "bytes S-E/T".
func contentRangeStart(h string) (int64, bool) {
	var start, end int64
	var total string
	if _, err := fmt.Sscanf(h, "bytes %d-%d/%s", &start, &end, &total); err != nil || start < 0 {
		return 0, false
	}
	return start, true
}

// BlobExists reports whether ref's repository holds blob d.
func (c *Client) BlobExists(ctx context.Context, ref Reference, d digest.Digest) (bool, error) {
	if err := ref.check(); err != nil {
		return false, err
	}
	if err := d.Validate(); err != nil {
		return false, errdefs.Invalid("invalid blob digest %q: %v", d, err)
	}
	o := op{action: "pull", ref: ref, domain: ref.Domain()}
	rt, err := c.transport(ctx, ref.Domain(), []string{pullScope(ref.Path())})
	if err != nil {
		return false, o.fail(err)
	}
	_, found, err := headBlob(ctx, &http.Client{Transport: rt}, c.v2URL(ref.Domain(), ref.Path()+"/blobs/"+d.String()))
	if err != nil {
		return false, o.fail(err)
	}
	return found, nil
}

// headBlob HEADs a blob URL: its size (-1 if not told) and whether it exists.
func headBlob(ctx context.Context, hc *http.Client, u string) (int64, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return 0, false, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.ContentLength, true, nil
	case http.StatusNotFound:
		return 0, false, nil
	}
	return 0, false, readStatusError(resp)
}
