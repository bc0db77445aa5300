package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/google/go-cmp/cmp"
)

const testUser, testPassword = "alice", "s3cret"

// basicAuth guards a registry with HTTP basic auth.
func basicAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != testUser || p != testPassword {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tokenAuth guards a registry as Docker Hub does: /v2/ answers with a Bearer
// challenge, /token hands out a token for basic credentials.
type tokenAuth struct {
	mu     sync.Mutex
	scopes []string
}

func (ta *tokenAuth) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			if u, p, ok := r.BasicAuth(); !ok || u != testUser || p != testPassword {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}`)
				return
			}
			ta.mu.Lock()
			ta.scopes = append(ta.scopes, r.URL.Query()["scope"]...)
			ta.mu.Unlock()
			fmt.Fprint(w, `{"token":"tok-alice"}`)
			return
		}
		if r.Header.Get("Authorization") != "Bearer tok-alice" {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, r.Host))
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func TestBasicAuthLogin(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t, basicAuth)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.json")
	// Content of the user's that Login must keep as it is.
	orig := `{"psFormat":"table {{.ID}}","auths":{"other.example:5000":{"auth":"Zm9vOmJhcg==","email":"x@example.com"}},"proxies":{"default":{"httpProxy":"http://p:3128"}},"someFutureKey":[1,2]}`
	if err := os.WriteFile(cfgPath, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	c := NewClient(Options{ConfigDir: dir})
	ti := newTestImage(t, 2)
	ref := mustRef(t, reg.host+"/app:1")

	_, err := c.Resolve(ctx, ref, nil)
	if !errors.Is(err, errdefs.ErrForbidden) {
		t.Fatalf("Resolve without credentials: %v", err)
	}
	want := "pull access denied for " + reg.host + "/app: unauthorized: authentication required (log in with `gantry login " + reg.host + "`)"
	if err.Error() != want {
		t.Errorf("Resolve without credentials: %q, want %q", err, want)
	}
	if _, err := c.Push(ctx, ti.request(ref, nil)); !errors.Is(err, errdefs.ErrForbidden) || !strings.HasPrefix(err.Error(), "push access denied for ") {
		t.Errorf("Push without credentials: %v", err)
	}

	err = c.Login(ctx, reg.host, testUser, "wrong")
	if !errors.Is(err, errdefs.ErrForbidden) || !strings.HasPrefix(err.Error(), "login to "+reg.host+" failed: unauthorized") {
		t.Errorf("Login with a wrong password: %v", err)
	}
	if want := "login to " + reg.host + " failed: unauthorized: incorrect username or password"; err == nil || err.Error() != want {
		t.Errorf("Login with a wrong password: %v, want %q", err, want)
	}
	if err := c.Login(ctx, "http://"+reg.host+"/", testUser, testPassword); err != nil {
		t.Fatalf("Login: %v", err)
	}
	got := readJSON(t, cfgPath)
	wantCfg := map[string]any{
		"psFormat": "table {{.ID}}",
		"auths": map[string]any{
			"other.example:5000": map[string]any{"auth": "Zm9vOmJhcg==", "email": "x@example.com"},
			reg.host:             map[string]any{"auth": base64.StdEncoding.EncodeToString([]byte(testUser + ":" + testPassword))},
		},
		"proxies":       map[string]any{"default": map[string]any{"httpProxy": "http://p:3128"}},
		"someFutureKey": []any{1.0, 2.0},
	}
	if diff := cmp.Diff(wantCfg, got); diff != "" {
		t.Errorf("config.json after login (-want +got):\n%s", diff)
	}
	if fi, err := os.Stat(cfgPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config.json mode: %v, %v", fi.Mode(), err)
	}

	if _, err := c.Push(ctx, ti.request(ref, nil)); err != nil {
		t.Fatalf("Push after login: %v", err)
	}
	if _, err := c.Resolve(ctx, ref, nil); err != nil {
		t.Fatalf("Resolve after login: %v", err)
	}
	// Another client on the same directory (another process) sees the login.
	if _, err := NewClient(Options{ConfigDir: dir}).Resolve(ctx, ref, nil); err != nil {
		t.Errorf("Resolve by a fresh client: %v", err)
	}

	if err := c.Logout(ctx, reg.host); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	delete(wantCfg["auths"].(map[string]any), reg.host)
	if diff := cmp.Diff(wantCfg, readJSON(t, cfgPath)); diff != "" {
		t.Errorf("config.json after logout (-want +got):\n%s", diff)
	}
	if _, err := c.Resolve(ctx, ref, nil); !errors.Is(err, errdefs.ErrForbidden) {
		t.Errorf("Resolve after logout: %v", err)
	}
	if err := c.Logout(ctx, reg.host); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("second Logout: %v", err)
	}

	// Credentials given per request (X-Registry-Auth) instead of the file.
	wc := c.WithCredentials(Credentials{Username: testUser, Password: testPassword})
	if _, err := wc.Resolve(ctx, ref, nil); err != nil {
		t.Errorf("Resolve WithCredentials: %v", err)
	}
}

func TestTokenAuthLogin(t *testing.T) {
	ctx := context.Background()
	ta := &tokenAuth{}
	reg := newTestRegistry(t, ta.wrap)
	dir := t.TempDir()
	c := NewClient(Options{ConfigDir: dir})
	ti := newTestImage(t, 1)
	ref := mustRef(t, reg.host+"/team/app:1")

	if _, err := c.Resolve(ctx, ref, nil); !errors.Is(err, errdefs.ErrForbidden) {
		t.Fatalf("Resolve without credentials: %v", err)
	}
	if err := c.Login(ctx, reg.host, testUser, "wrong"); !errors.Is(err, errdefs.ErrForbidden) {
		t.Errorf("Login with a wrong password: %v", err)
	}
	if err := c.Login(ctx, reg.host, testUser, testPassword); err != nil {
		t.Fatalf("Login: %v", err)
	}
	if _, err := c.Push(ctx, ti.request(ref, nil, reg.host+"/team/base")); err != nil {
		t.Fatalf("Push after login: %v", err)
	}
	res, err := c.Resolve(ctx, ref, nil)
	if err != nil {
		t.Fatalf("Resolve after login: %v", err)
	}
	rc, _, err := c.FetchBlob(ctx, ref, res.Layers[0].Digest, 0)
	if err != nil {
		t.Fatalf("FetchBlob after login: %v", err)
	}
	rc.Close()

	ta.mu.Lock()
	scopes := strings.Join(ta.scopes, " ")
	ta.mu.Unlock()
	for _, want := range []string{"repository:team/app:pull,push", "repository:team/base:pull", "repository:team/app:pull"} {
		if !strings.Contains(scopes, want) {
			t.Errorf("token scopes %q lack %q", scopes, want)
		}
	}
}

// TestCredentialHelper stores credentials through a docker-credential-*
// program when config.json names one, as Docker does.
func TestCredentialHelper(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t, basicAuth)
	bin, store := t.TempDir(), t.TempDir()
	helper := `#!/bin/sh
f="` + store + `/creds"
case "$1" in
store) cat > "$f" ;;
get) if [ -s "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase) rm -f "$f" ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-test"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, []byte(`{"credHelpers":{"`+reg.host+`":"test"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := NewClient(Options{ConfigDir: dir})
	if err := c.Login(ctx, reg.host, testUser, testPassword); err != nil {
		t.Fatalf("Login: %v", err)
	}
	saved, err := os.ReadFile(filepath.Join(store, "creds"))
	if err != nil || !strings.Contains(string(saved), testPassword) {
		t.Fatalf("helper store: %q, %v", saved, err)
	}
	if strings.Contains(string(mustRead(t, cfgPath)), base64.StdEncoding.EncodeToString([]byte(testUser+":"+testPassword))) {
		t.Errorf("password written to config.json despite the helper")
	}
	ti := newTestImage(t, 1)
	if _, err := c.Push(ctx, ti.request(mustRef(t, reg.host+"/app:1"), nil)); err != nil {
		t.Fatalf("Push with helper credentials: %v", err)
	}
	if err := c.Logout(ctx, reg.host); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if _, err := os.Stat(filepath.Join(store, "creds")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("helper still holds credentials: %v", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestServerDomain(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "docker.io",
		"docker.io":                   "docker.io",
		"https://index.docker.io/v1/": "docker.io",
		"registry-1.docker.io":        "docker.io",
		"127.0.0.1:5000":              "127.0.0.1:5000",
		"http://127.0.0.1:5000/":      "127.0.0.1:5000",
		"Ghcr.IO":                     "ghcr.io",
	} {
		got, err := serverDomain(in)
		if err != nil || got != want {
			t.Errorf("serverDomain(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	if got := authConfigKey("docker.io"); got != "https://index.docker.io/v1/" {
		t.Errorf("Docker Hub's auth key: %q", got)
	}
}

func TestDefaultConfigDir(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", "/some/where")
	if got := NewClient(Options{}).configDir; got != "/some/where" {
		t.Errorf("config dir with DOCKER_CONFIG: %q", got)
	}
	t.Setenv("DOCKER_CONFIG", "")
	t.Setenv("HOME", "/home/x")
	if got := NewClient(Options{}).configDir; got != "/home/x/.docker" {
		t.Errorf("config dir from HOME: %q", got)
	}
}
