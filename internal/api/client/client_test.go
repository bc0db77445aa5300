package client

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
)

// daemon serves h on a unix socket and returns a client of it.
func daemon(t *testing.T, h http.HandlerFunc, opts ...Opt) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := New(append([]Opt{WithHost("unix://" + sock)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestNegotiatesAndDecodesErrors(t *testing.T) {
	var paths []string
	c := daemon(t, func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.Method+" "+r.URL.Path)
		if r.URL.Path == "/_ping" {
			w.Header().Set("Api-Version", "1.45")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"No such container: x"}`))
	})
	_, err := c.ContainerInspect(context.Background(), "x", ContainerInspectOptions{})
	if err == nil || err.Error() != "Error response from daemon: No such container: x" {
		t.Fatalf("err = %v", err)
	}
	if !cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) || StatusCode(err) != 404 {
		t.Errorf("class of %v: not found %v, status %d", err, cerrdefs.IsNotFound(err), StatusCode(err))
	}
	want := []string{"HEAD /_ping", "GET /v1.45/containers/x/json"}
	if len(paths) != 2 || paths[0] != want[0] || paths[1] != want[1] {
		t.Errorf("requests %q, want %q", paths, want)
	}
	if v := c.ClientVersion(); v != "1.45" {
		t.Errorf("version %s", v)
	}
}

func TestFixedVersionDoesNotPing(t *testing.T) {
	var paths []string
	c := daemon(t, func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path+"?"+r.URL.RawQuery)
		_, _ = w.Write([]byte(`[]`))
	}, WithAPIVersion("v1.44"))
	f := Filters{}.Add("label", "a=b")
	if _, err := c.ContainerList(context.Background(), ContainerListOptions{All: true, Filters: f}); err != nil {
		t.Fatal(err)
	}
	want := "/v1.44/containers/json?" + url.Values{"all": {"1"}, "filters": {`{"label":{"a=b":true}}`}}.Encode()
	if len(paths) != 1 || paths[0] != want {
		t.Errorf("requests %q, want %q", paths, want)
	}
}

func TestConnectionFailed(t *testing.T) {
	c, err := New(WithHost("unix://" + filepath.Join(t.TempDir(), "none.sock")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Info(context.Background(), InfoOptions{})
	if !IsErrConnectionFailed(err) {
		t.Errorf("err = %v, not a connection failure", err)
	}
}

func TestSplitReference(t *testing.T) {
	for ref, want := range map[string][3]string{
		"docker.io/library/busybox:latest":    {"docker.io/library/busybox", "latest", ""},
		"127.0.0.1:5000/app":                  {"127.0.0.1:5000/app", "", ""},
		"127.0.0.1:5000/app:1@sha256:abc":     {"127.0.0.1:5000/app", "1", "sha256:abc"},
		"docker.io/library/busybox@sha256:ab": {"docker.io/library/busybox", "", "sha256:ab"},
	} {
		name, tag, digest := splitReference(ref)
		if got := [3]string{name, tag, digest}; got != want {
			t.Errorf("%s: %q, want %q", ref, got, want)
		}
	}
}
