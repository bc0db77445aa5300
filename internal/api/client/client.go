// Package client is gantry's client of the Docker Engine API: the calls the
// CLI makes, over the wire types of github.com/moby/moby/api/types. It does
// what moby's client does for these calls (paths, queries, headers, version
// negotiation, error decoding) without its dependencies: no reference
// parsing (callers hand over normalised references), no tracing.
package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	// MaxAPIVersion is the newest API version the client speaks; the
	// version used is the lower of it and the daemon's.
	MaxAPIVersion = "1.56"
	// MinAPIVersion is the oldest daemon API version the client accepts.
	MinAPIVersion = "1.40"
	// dummyHost is the Host header on a unix socket, where there is none.
	dummyHost = "api.moby.localhost"
)

// Client talks to one daemon. Its methods are safe for concurrent use.
type Client struct {
	host      string // as given: "unix:///run/gantry/gantry.sock"
	proto     string // "unix", "tcp"
	addr      string // socket path or host:port
	basePath  string // a path prefix of a tcp:// host
	userAgent string
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	transport *http.Transport
	http      *http.Client

	mu         sync.Mutex // guards version and negotiated
	version    string
	negotiated bool
}

// Opt configures a Client.
type Opt func(*Client) error

// WithHost sets the daemon's address: unix:///path or tcp://host:port.
func WithHost(host string) Opt {
	return func(c *Client) error {
		u, err := parseHost(host)
		if err != nil {
			return err
		}
		c.host, c.proto, c.addr, c.basePath = host, u.Scheme, u.Host, u.Path
		return nil
	}
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Opt {
	return func(c *Client) error {
		c.userAgent = ua
		return nil
	}
}

// WithAPIVersion fixes the API version ("1.47", "v1.47"): no negotiation.
// An empty version leaves negotiation on.
func WithAPIVersion(version string) Opt {
	return func(c *Client) error {
		version = strings.TrimSpace(version)
		if strings.TrimPrefix(version, "v") == "" {
			return nil
		}
		v, err := parseAPIVersion(strings.TrimPrefix(version, "v"))
		if err != nil {
			return fmt.Errorf("invalid API version (%s): %w", version, err)
		}
		c.version, c.negotiated = v, true
		return nil
	}
}

// WithDialContext replaces the dialer of every connection, hijacked ones
// included; it is called with the host's network and address.
func WithDialContext(dial func(ctx context.Context, network, addr string) (net.Conn, error)) Opt {
	return func(c *Client) error {
		c.dial = dial
		return nil
	}
}

// New makes a client; the default host is the gantry daemon's socket.
func New(opts ...Opt) (*Client, error) {
	c := &Client{version: MaxAPIVersion}
	if err := WithHost("unix:///run/gantry/gantry.sock")(c); err != nil {
		return nil, err
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.dial == nil {
		d := &net.Dialer{Timeout: 32 * time.Second}
		c.dial = d.DialContext
	}
	c.transport = &http.Transport{
		MaxIdleConns:    6,
		IdleConnTimeout: 30 * time.Second,
		// The URL's host is not an address with a unix socket: dial the
		// daemon's.
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return c.dial(ctx, c.proto, c.addr)
		},
	}
	switch c.proto {
	case "unix":
		c.transport.DisableCompression = true
	case "tcp":
		c.transport.Proxy = http.ProxyFromEnvironment
	default:
		return nil, fmt.Errorf("protocol not available: %s", c.proto)
	}
	c.http = &http.Client{Transport: c.transport, CheckRedirect: checkRedirect}
	return c, nil
}

// Close drops the idle connections.
func (c *Client) Close() error {
	c.transport.CloseIdleConnections()
	return nil
}

// DaemonHost is the daemon's address as given.
func (c *Client) DaemonHost() string { return c.host }

// ClientVersion is the API version in use: the negotiated one once a
// request was made.
func (c *Client) ClientVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// errRedirect is a redirect of anything but a GET.
var errRedirect = errors.New("unexpected redirect in response")

func checkRedirect(_ *http.Request, via []*http.Request) error {
	if via[0].Method == http.MethodGet {
		return http.ErrUseLastResponse
	}
	return errRedirect
}

// parseHost splits "proto://addr"; a tcp:// host may carry a base path.
func parseHost(host string) (*url.URL, error) {
	proto, addr, ok := strings.Cut(host, "://")
	if !ok || addr == "" {
		return nil, fmt.Errorf("unable to parse docker host `%s`", host)
	}
	var basePath string
	if proto == "tcp" {
		u, err := url.Parse("tcp://" + addr)
		if err != nil {
			return nil, err
		}
		addr, basePath = u.Host, u.Path
	}
	return &url.URL{Scheme: proto, Host: addr, Path: basePath}, nil
}
