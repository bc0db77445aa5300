package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Options configure a Client.
type Options struct {
	// Insecure lists registries reached over plain HTTP, as "host:port",
	// "host" or a CIDR ("10.0.0.0/8", matched against IP literals only).
	// localhost, 127.0.0.0/8 and ::1 always are.
	Insecure []string
	// ConfigDir is the docker config directory holding config.json;
	// default $DOCKER_CONFIG, else ~/.docker.
	ConfigDir string
	// Transport carries every request; default is a tuned http.Transport.
	Transport http.RoundTripper
	// UserAgent is sent with every request; default "gantry".
	UserAgent string
}

// Validate reports Insecure entries that are neither a host nor a CIDR, so
// that a daemon can refuse its configuration instead of ignoring them.
func (o Options) Validate() error {
	for _, s := range o.Insecure {
		if _, _, err := parseInsecure(s); err != nil {
			return err
		}
	}
	return nil
}

// Client talks to registries. It is safe for concurrent use; authenticated
// transports (tokens) are cached per registry, repository scope and
// credentials, so that a pull's many blob requests share one handshake.
type Client struct {
	insecure  insecureMatcher
	configDir string
	base      http.RoundTripper // scheme enforcement and User-Agent around Options.Transport
	creds     *authn.AuthConfig // fixed credentials (WithCredentials), nil: read ConfigDir

	mu    sync.Mutex
	auths map[authKey]*authEntry
}

// NewClient makes a Client.
func NewClient(opts Options) *Client {
	inner := opts.Transport
	if inner == nil {
		inner = defaultTransport()
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "gantry"
	}
	dir := opts.ConfigDir
	if dir == "" {
		dir = ConfigDir()
	}
	c := &Client{
		insecure:  newInsecureMatcher(opts.Insecure),
		configDir: dir,
		auths:     map[authKey]*authEntry{},
	}
	c.base = &schemeTransport{inner: inner, insecure: c.insecure.match, userAgent: ua}
	return c
}

// Credentials are what a client sends on a user's behalf, as in the Engine
// API's X-Registry-Auth header.
type Credentials struct {
	Username      string
	Password      string
	IdentityToken string
	RegistryToken string
}

// WithCredentials is a Client that uses creds for every registry instead of
// the config directory (the daemon gets them per request from its client).
// It shares c's HTTP transport but not its token cache.
func (c *Client) WithCredentials(creds Credentials) *Client {
	return &Client{
		insecure:  c.insecure,
		configDir: c.configDir,
		base:      c.base,
		creds: &authn.AuthConfig{
			Username:      creds.Username,
			Password:      creds.Password,
			IdentityToken: creds.IdentityToken,
			RegistryToken: creds.RegistryToken,
		},
		auths: map[authKey]*authEntry{},
	}
}

// ConfigDir is the docker CLI's configuration directory: $DOCKER_CONFIG, else ~/.docker.
func ConfigDir() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = "/root"
	}
	return filepath.Join(home, ".docker")
}

// defaultTransport is tuned for many parallel blob streams to one host:
// HTTP/1.1 (one TCP connection per stream rather than one shared HTTP/2
// connection), enough idle connections per host to keep them warm, and no
// transparent decompression, which would break digest verification. The
// read buffer is 32 KiB so that io.Copy-sized reads of a blob body bypass it
// and land straight in the caller's buffer (bufio reads directly when the
// caller's buffer is at least as large as its own).
func defaultTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     false,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ReadBufferSize:        32 << 10,
		WriteBufferSize:       64 << 10,
	}
}

// endpoint is the host requests for a registry domain go to.
func endpoint(domain string) string {
	if domain == dockerHubDomain {
		return "registry-1.docker.io"
	}
	return domain
}

// scheme is how the registry at host is reached.
func (c *Client) scheme(host string) string {
	if c.insecure.match(host) {
		return "http"
	}
	return "https"
}

// v2URL is the URL of a registry API path ("<repo>/manifests/<ref>").
func (c *Client) v2URL(domain, path string) string {
	host := endpoint(domain)
	return c.scheme(host) + "://" + host + "/v2/" + path
}

// insecureMatcher decides which registries are reached over plain HTTP.
type insecureMatcher struct {
	hosts    []string
	prefixes []netip.Prefix
}

func newInsecureMatcher(list []string) insecureMatcher {
	var m insecureMatcher
	for _, s := range list {
		host, prefix, err := parseInsecure(s)
		switch {
		case err != nil:
			// Options.Validate reports these; a client still works without them.
		case prefix.IsValid():
			m.prefixes = append(m.prefixes, prefix)
		default:
			m.hosts = append(m.hosts, host)
		}
	}
	return m
}

// parseInsecure reads one Insecure entry: a CIDR or a host[:port], a scheme
// in front tolerated because people write "http://host:5000".
func parseInsecure(s string) (string, netip.Prefix, error) {
	t := strings.TrimSpace(s)
	if i := strings.Index(t, "://"); i >= 0 {
		t = t[i+3:]
	}
	t = strings.TrimSuffix(t, "/")
	if strings.Contains(t, "/") {
		p, err := netip.ParsePrefix(t)
		if err != nil {
			return "", netip.Prefix{}, errdefs.Invalid("insecure registry %q is neither a host nor a CIDR", s)
		}
		return "", p.Masked(), nil
	}
	if t == "" || strings.ContainsAny(t, " \t") {
		return "", netip.Prefix{}, errdefs.Invalid("insecure registry %q is neither a host nor a CIDR", s)
	}
	return strings.ToLower(t), netip.Prefix{}, nil
}

// match reports whether host ("name", "name:port", "[::1]:5000") is insecure.
func (m insecureMatcher) match(host string) bool {
	host = strings.ToLower(host)
	hostname := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hostname = h
	}
	hostname = strings.TrimSuffix(strings.TrimPrefix(hostname, "["), "]")
	if hostname == "localhost" {
		return true
	}
	addr, err := netip.ParseAddr(hostname)
	if err == nil {
		addr = addr.Unmap()
		if addr.IsLoopback() {
			return true
		}
		for _, p := range m.prefixes {
			if p.Contains(addr) {
				return true
			}
		}
	}
	return slices.Contains(m.hosts, host)
}

// schemeTransport makes the insecure-registry decision binding: requests to
// an insecure host go over HTTP (so go-containerregistry's HTTPS-first ping
// costs nothing), and plain-HTTP registry API requests to any other host are
// refused (go-containerregistry would otherwise fall back to HTTP for private
// addresses on its own). It also sets the User-Agent.
type schemeTransport struct {
	inner     http.RoundTripper
	insecure  func(host string) bool
	userAgent string
}

func (t *schemeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	insecure := t.insecure(req.URL.Host)
	if !insecure && req.URL.Scheme == "http" && strings.HasPrefix(req.URL.Path, "/v2") {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &insecureRefused{host: req.URL.Host}
	}
	// RoundTrippers must not change the caller's request: clone it.
	out := req.Clone(req.Context())
	if insecure && out.URL.Scheme == "https" {
		out.URL.Scheme = "http"
	}
	out.Header.Set("User-Agent", t.userAgent)
	return t.inner.RoundTrip(out)
}

type insecureRefused struct{ host string }

func (e *insecureRefused) Error() string {
	return fmt.Sprintf("refusing plain HTTP to %s: it is not an insecure registry", e.host)
}

// authKey identifies one authenticated transport.
type authKey struct {
	host   string
	scopes string
	creds  authn.AuthConfig
}

type authEntry struct {
	ready chan struct{}
	rt    http.RoundTripper
	err   error
}

// maxAuthEntries bounds the token cache of a long-running daemon; when it is
// full the cache starts again, costing one handshake per repository.
const maxAuthEntries = 512

// transport returns an authenticated RoundTripper for domain with the given
// token scopes, doing the ping and token handshake once per key.
func (c *Client) transport(ctx context.Context, domain string, scopes []string) (http.RoundTripper, error) {
	creds, err := c.credentialsFor(ctx, domain)
	if err != nil {
		return nil, err
	}
	key := authKey{host: domain, scopes: strings.Join(scopes, " "), creds: creds}
	for {
		c.mu.Lock()
		e, ok := c.auths[key]
		if !ok {
			if len(c.auths) >= maxAuthEntries {
				clear(c.auths)
			}
			e = &authEntry{ready: make(chan struct{})}
			c.auths[key] = e
		}
		c.mu.Unlock()

		if !ok {
			e.rt, e.err = c.handshake(ctx, domain, creds, scopes)
			if e.err != nil {
				// Failures are not cached: the next call tries again.
				c.mu.Lock()
				if c.auths[key] == e {
					delete(c.auths, key)
				}
				c.mu.Unlock()
			}
			close(e.ready)
			return e.rt, e.err
		}
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err != nil && isContextError(e.err) && ctx.Err() == nil {
			// Another caller's context ended its handshake; do our own.
			continue
		}
		return e.rt, e.err
	}
}

func (c *Client) handshake(ctx context.Context, domain string, creds authn.AuthConfig, scopes []string) (http.RoundTripper, error) {
	reg, err := c.ggcrRegistry(domain)
	if err != nil {
		return nil, err
	}
	var auth authn.Authenticator = authn.Anonymous
	if creds != (authn.AuthConfig{}) {
		auth = authn.FromConfig(creds)
	}
	return transport.NewWithContext(ctx, reg, auth, c.base, scopes)
}

func (c *Client) ggcrRegistry(domain string) (name.Registry, error) {
	host := endpoint(domain)
	opts := []name.Option{name.WeakValidation}
	if c.insecure.match(host) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return name.Registry{}, errdefs.Invalid("invalid registry %q: %v", domain, err)
	}
	return reg, nil
}

// forget drops cached transports for domain (after login or logout).
func (c *Client) forget(domain string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.auths {
		if k.host == domain {
			delete(c.auths, k)
		}
	}
}

func pullScope(path string) string { return "repository:" + path + ":pull" }
func pushScope(path string) string { return "repository:" + path + ":pull,push" }

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// resolveLocation turns an upload Location header into an absolute URL.
func resolveLocation(base *url.URL, loc string) (*url.URL, error) {
	if loc == "" {
		return nil, errors.New("registry sent no upload location")
	}
	u, err := url.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("registry sent a bad upload location %q: %w", loc, err)
	}
	return base.ResolveReference(u), nil
}
