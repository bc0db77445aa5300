package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path"
	"reflect"
)

// get, post, postRaw and del send a request to an API path ("/info"),
// versioned, and turn an error status into an error; the caller closes
// the body of a successful response.

func (c *Client) get(ctx context.Context, p string, query url.Values) (*http.Response, error) {
	return c.send(ctx, http.MethodGet, p, query, nil, nil)
}

func (c *Client) del(ctx context.Context, p string, query url.Values) (*http.Response, error) {
	return c.send(ctx, http.MethodDelete, p, query, nil, nil)
}

// post sends body as JSON; a nil body (or nil pointer) sends none.
func (c *Client) post(ctx context.Context, p string, query url.Values, header http.Header, body any) (*http.Response, error) {
	r, header, err := jsonBody(body, header)
	if err != nil {
		return nil, err
	}
	return c.send(ctx, http.MethodPost, p, query, header, r)
}

// postRaw sends body as it is.
func (c *Client) postRaw(ctx context.Context, p string, query url.Values, header http.Header, body io.Reader) (*http.Response, error) {
	return c.send(ctx, http.MethodPost, p, query, header, body)
}

func (c *Client) send(ctx context.Context, method, p string, query url.Values, header http.Header, body io.Reader) (*http.Response, error) {
	resp, err := c.roundTrip(ctx, method, c.apiPath(ctx, p, query), header, body)
	if err != nil {
		return nil, err
	}
	if err := responseError(resp); err != nil {
		closeBody(resp)
		return nil, err
	}
	return resp, nil
}

// apiPath is p under the API version (negotiated first if need be) and
// the host's base path, with the query.
func (c *Client) apiPath(ctx context.Context, p string, query url.Values) string {
	c.negotiate(ctx)
	v := c.ClientVersion()
	u := url.URL{Path: path.Join(c.basePath, "/v"+v, p), RawQuery: query.Encode()}
	return u.String()
}

// roundTrip sends one request to target (a path with its query) and
// reports a failure to reach the daemon as connection errors.
func (c *Client) roundTrip(ctx context.Context, method, target string, header http.Header, body io.Reader) (*http.Response, error) {
	req, err := c.newRequest(ctx, method, target, header, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.connectError(err)
	}
	return resp, nil
}

func (c *Client) newRequest(ctx context.Context, method, target string, header http.Header, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[http.CanonicalHeaderKey(k)] = v
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	req.URL.Scheme = "http"
	req.URL.Host = c.addr
	if c.proto == "unix" {
		req.Host = dummyHost
	}
	return req, nil
}

// jsonBody encodes body as JSON and adds the content type to a copy of
// header; no body is http.NoBody and no header change.
func jsonBody(body any, header http.Header) (io.Reader, http.Header, error) {
	if body == nil {
		return http.NoBody, header, nil
	}
	if v := reflect.ValueOf(body); v.Kind() == reflect.Pointer && v.IsNil() {
		return http.NoBody, header, nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, header, err
	}
	h := http.Header{}
	if header != nil {
		h = header.Clone()
	}
	h.Set("Content-Type", "application/json")
	return bytes.NewReader(b), h, nil
}

// closeBody closes a response, reading a little first so that the
// connection can be reused.
func closeBody(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	if resp.ContentLength != 0 && (resp.Request == nil || resp.Request.Method != http.MethodHead) {
		_, _ = io.CopyN(io.Discard, resp.Body, 512)
	}
	_ = resp.Body.Close()
}

// decode reads resp's JSON body into out and closes it.
func decode(resp *http.Response, out any) error {
	defer closeBody(resp)
	return json.NewDecoder(resp.Body).Decode(out)
}

// decodeRaw is decode that also returns the body as it came.
func decodeRaw(resp *http.Response, out any) (json.RawMessage, error) {
	defer closeBody(resp)
	var buf bytes.Buffer
	if err := json.NewDecoder(io.TeeReader(resp.Body, &buf)).Decode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
