package client

import (
	"context"
	"net/http"
	"path"
)

// PingResult is what /_ping's headers tell.
type PingResult struct {
	APIVersion   string
	OSType       string
	Experimental bool
	Server       string // the Server header: "gantry/..." for gantry
}

// Ping asks /_ping (HEAD, then GET if HEAD fails).
func (c *Client) Ping(ctx context.Context) (PingResult, error) {
	p := path.Join(c.basePath, "/_ping")
	resp, err := c.roundTrip(ctx, http.MethodHead, p, nil, nil)
	if err == nil && resp.StatusCode == http.StatusOK {
		closeBody(resp)
		return pingResult(resp), nil
	}
	closeBody(resp)
	resp, err = c.roundTrip(ctx, http.MethodGet, p, nil, nil)
	if err != nil {
		return PingResult{}, err
	}
	defer closeBody(resp)
	return pingResult(resp), responseError(resp)
}

func pingResult(resp *http.Response) PingResult {
	return PingResult{
		APIVersion:   resp.Header.Get("Api-Version"),
		OSType:       resp.Header.Get("Ostype"),
		Experimental: resp.Header.Get("Docker-Experimental") == "true",
		Server:       resp.Header.Get("Server"),
	}
}

// negotiate settles the API version once, before the first request: the
// lower of MaxAPIVersion and the daemon's. A failed ping leaves it for the
// next request to try again (the request itself reports the failure).
func (c *Client) negotiate(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.negotiated {
		return
	}
	ping, err := c.Ping(ctx)
	if err != nil {
		return
	}
	if ping.APIVersion == "" {
		c.negotiated = true
		return
	}
	// A daemon too old (or saying nonsense) is asked again next time, and
	// meanwhile gets MaxAPIVersion, which it rejects in its own words.
	v, err := parseAPIVersion(ping.APIVersion)
	if err != nil || versionLess(v, MinAPIVersion) {
		return
	}
	c.negotiated = true
	if versionLess(v, c.version) {
		c.version = v
	}
}
