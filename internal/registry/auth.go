package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/credentials"
	"github.com/docker/cli/cli/config/types"
	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// hubAuthKey is where Docker keeps Docker Hub's credentials in config.json.
const hubAuthKey = "https://index.docker.io/v1/"

// authConfigKey is the config.json "auths" key for a registry domain.
func authConfigKey(domain string) string {
	if domain == dockerHubDomain {
		return hubAuthKey
	}
	return domain
}

// credentials are the credentials for domain: the fixed ones of
// WithCredentials, else those in the config directory (file or credential
// helper), read on every call so that a login by another process counts.
func (c *Client) credentials(domain string) (authn.AuthConfig, error) {
	if c.creds != nil {
		return *c.creds, nil
	}
	cf, err := config.Load(c.configDir)
	if err != nil {
		return authn.AuthConfig{}, errdefs.Invalid("reading docker config: %v", err)
	}
	ac, err := cf.GetAuthConfig(authConfigKey(domain))
	if err != nil {
		return authn.AuthConfig{}, errdefs.Unavailable("getting credentials for %s: %v", domain, err)
	}
	return authn.AuthConfig{
		Username:      ac.Username,
		Password:      ac.Password,
		Auth:          ac.Auth,
		IdentityToken: ac.IdentityToken,
		RegistryToken: ac.RegistryToken,
	}, nil
}

type requestCredentialsKey struct{}

// WithRequestCredentials makes the registry calls made with ctx use creds
// in place of the client's own (fixed ones or the config directory's). The
// daemon gets them per request from its client, in the Engine API's
// X-Registry-Auth header; empty credentials are anonymous, as in Docker,
// whose daemon never reads a config file.
func WithRequestCredentials(ctx context.Context, creds Credentials) context.Context {
	return context.WithValue(ctx, requestCredentialsKey{}, creds)
}

// credentialsFor is credentials, unless ctx carries a request's own.
func (c *Client) credentialsFor(ctx context.Context, domain string) (authn.AuthConfig, error) {
	if creds, ok := ctx.Value(requestCredentialsKey{}).(Credentials); ok {
		return authn.AuthConfig{
			Username:      creds.Username,
			Password:      creds.Password,
			IdentityToken: creds.IdentityToken,
			RegistryToken: creds.RegistryToken,
		}, nil
	}
	return c.credentials(domain)
}

// StoredCredentials are the credentials the config directory holds for a
// registry domain (empty when none): what a client sends the daemon.
func (c *Client) StoredCredentials(domain string) (Credentials, error) {
	ac, err := c.credentials(domain)
	if err != nil {
		return Credentials{}, err
	}
	creds := Credentials{Username: ac.Username, Password: ac.Password, IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}
	if creds.Username == "" && ac.Auth != "" {
		if raw, err := base64.StdEncoding.DecodeString(ac.Auth); err == nil {
			creds.Username, creds.Password, _ = strings.Cut(string(raw), ":")
		}
	}
	return creds, nil
}

// serverDomain reads a login server as people write it ("", "docker.io",
// "https://index.docker.io/v1/", "http://127.0.0.1:5000/") into a domain.
func serverDomain(server string) (string, error) {
	s := strings.TrimSpace(server)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	s = strings.ToLower(s)
	switch s {
	case "", "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return dockerHubDomain, nil
	}
	if strings.ContainsAny(s, " \t@") {
		return "", errdefs.Invalid("invalid registry server %q", server)
	}
	return s, nil
}

// Login checks user and password against the registry (GET /v2/ with basic
// auth, following a token challenge) and stores them in the config
// directory: in the credential helper config.json names for the registry,
// else in config.json's "auths", keeping the file's other content.
func (c *Client) Login(ctx context.Context, server, user, password string) error {
	if err := c.CheckLogin(ctx, server, user, password); err != nil {
		return err
	}
	return c.StoreLogin(server, user, password)
}

// CheckLogin checks user and password against the registry (GET /v2/ with
// basic auth, following a token challenge) and stores nothing: the daemon's
// POST /auth, whose client keeps the credentials.
func (c *Client) CheckLogin(ctx context.Context, server, user, password string) error {
	domain, err := serverDomain(server)
	if err != nil {
		return err
	}
	if user == "" || password == "" {
		return errdefs.Invalid("login to %s: username and password are required", domain)
	}
	o := op{action: "login", domain: domain}
	reg, err := c.ggcrRegistry(domain)
	if err != nil {
		return err
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	// No scope: a token server then only checks the credentials.
	rt, err := transport.NewWithContext(ctx, reg, auth, c.base, nil)
	if err != nil {
		return o.fail(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.v2URL(domain, ""), nil)
	if err != nil {
		return errdefs.Invalid("login to %s: %v", domain, err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return o.fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return o.fail(readStatusError(resp))
	}
	return nil
}

// StoreLogin stores user and password for server in the config directory:
// in the credential helper config.json names for the registry, else in
// config.json's "auths", keeping the file's other content.
func (c *Client) StoreLogin(server, user, password string) error {
	domain, err := serverDomain(server)
	if err != nil {
		return err
	}
	err = c.editAuths(domain, func(cf *configFile, helper credentials.Store) error {
		key := authConfigKey(domain)
		if helper != nil {
			return helper.Store(types.AuthConfig{ServerAddress: key, Username: user, Password: password})
		}
		cf.auths[key] = types.AuthConfig{Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + password))}
		return cf.Save()
	})
	c.forget(domain)
	return err
}

// Logout removes the stored credentials for server; errdefs.NotFound when
// there were none (Docker prints "Not logged in to ..." and succeeds).
func (c *Client) Logout(ctx context.Context, server string) error {
	domain, err := serverDomain(server)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	defer c.forget(domain)
	return c.editAuths(domain, func(cf *configFile, helper credentials.Store) error {
		key := authConfigKey(domain)
		if helper != nil {
			return helper.Erase(key)
		}
		if _, ok := cf.auths[key]; !ok {
			return errdefs.NotFound("not logged in to %s", domain)
		}
		delete(cf.auths, key)
		return cf.Save()
	})
}

// editAuths loads config.json and hands fn either the file or, when one is
// configured for domain, the credential helper's store (which keeps its
// bookkeeping entry in the same file).
func (c *Client) editAuths(domain string, fn func(cf *configFile, helper credentials.Store) error) error {
	cf, err := loadConfigFile(filepath.Join(c.configDir, config.ConfigFileName))
	if err != nil {
		return err
	}
	var helper credentials.Store
	if h := cf.helperFor(authConfigKey(domain)); h != "" {
		helper = credentials.NewNativeStore(cf, h)
	}
	if err := fn(cf, helper); err != nil {
		if isClassed(err) {
			return err
		}
		return errdefs.Unavailable("storing credentials for %s: %v", domain, err)
	}
	return nil
}

// configFile is config.json edited in place: only changed "auths" entries
// are rewritten, every other key and entry is written back as it was read,
// which docker/cli's own ConfigFile (a fixed struct) would not do.
type configFile struct {
	path     string
	top      map[string]json.RawMessage
	rawAuths map[string]json.RawMessage
	original map[string]types.AuthConfig
	auths    map[string]types.AuthConfig
	helpers  map[string]string
	store    string
}

func loadConfigFile(path string) (*configFile, error) {
	cf := &configFile{
		path:     path,
		top:      map[string]json.RawMessage{},
		rawAuths: map[string]json.RawMessage{},
		original: map[string]types.AuthConfig{},
		auths:    map[string]types.AuthConfig{},
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cf, nil
	}
	if err != nil {
		return nil, errdefs.Unavailable("reading %s: %v", path, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return cf, nil
	}
	bad := func(err error) error { return errdefs.Invalid("parsing %s: %v", path, err) }
	if err := json.Unmarshal(data, &cf.top); err != nil {
		return nil, bad(err)
	}
	if raw, ok := cf.top["auths"]; ok && !isJSONNull(raw) {
		if err := json.Unmarshal(raw, &cf.rawAuths); err != nil {
			return nil, bad(err)
		}
	}
	for k, raw := range cf.rawAuths {
		var ac types.AuthConfig
		if err := json.Unmarshal(raw, &ac); err != nil {
			return nil, bad(err)
		}
		cf.original[k], cf.auths[k] = ac, ac
	}
	if raw, ok := cf.top["credHelpers"]; ok && !isJSONNull(raw) {
		if err := json.Unmarshal(raw, &cf.helpers); err != nil {
			return nil, bad(err)
		}
	}
	if raw, ok := cf.top["credsStore"]; ok && !isJSONNull(raw) {
		if err := json.Unmarshal(raw, &cf.store); err != nil {
			return nil, bad(err)
		}
	}
	return cf, nil
}

func isJSONNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func (cf *configFile) helperFor(key string) string {
	if h, ok := cf.helpers[key]; ok {
		return h
	}
	return cf.store
}

// GetAuthConfigs and GetFilename let docker/cli's credential-helper store
// keep its entries here.
func (cf *configFile) GetAuthConfigs() map[string]types.AuthConfig { return cf.auths }
func (cf *configFile) GetFilename() string                         { return cf.path }

// Save writes the file atomically (temp file, fsync, rename), 0600 as it
// holds secrets.
func (cf *configFile) Save() error {
	auths := make(map[string]json.RawMessage, len(cf.auths))
	for k, ac := range cf.auths {
		if orig, ok := cf.original[k]; ok && orig == ac {
			auths[k] = cf.rawAuths[k]
			continue
		}
		// Credentials live in "auth"; the server address is the key.
		ac.ServerAddress = ""
		if ac.Username != "" || ac.Password != "" {
			ac.Auth = base64.StdEncoding.EncodeToString([]byte(ac.Username + ":" + ac.Password))
			ac.Username, ac.Password = "", ""
		}
		raw, err := json.Marshal(ac)
		if err != nil {
			return err
		}
		auths[k] = raw
	}
	rawAuths, err := json.Marshal(auths)
	if err != nil {
		return err
	}
	cf.top["auths"] = rawAuths
	data, err := json.MarshalIndent(cf.top, "", "\t")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(cf.path, append(data, '\n'), 0o600); err != nil {
		return err
	}
	cf.rawAuths, cf.original = auths, make(map[string]types.AuthConfig, len(cf.auths))
	for k, ac := range cf.auths {
		cf.original[k] = ac
	}
	return nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// Write through a symlinked config.json (dotfile managers) to its target.
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
		dir = filepath.Dir(path)
	}
	f, err := os.CreateTemp(dir, ".config.json-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
