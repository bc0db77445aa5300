package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	dockercontainer "github.com/moby/moby/api/types/container"

	"github.com/gantry-dev/gantry/internal/api/server"
	"github.com/gantry-dev/gantry/internal/engine/container"
	"github.com/gantry-dev/gantry/internal/engine/events"
	"github.com/gantry-dev/gantry/internal/image"
)

// newTestServer is the API over real services on a temporary data root
// holding the offline busybox image. Nothing is started: create and exec
// create only write records.
func newTestServer(t testing.TB) (*server.Server, *container.Service) {
	t.Helper()
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("needs the host's static busybox (busybox-static)")
	}
	ctx := context.Background()
	root := t.TempDir()
	images, err := image.Open(ctx, root, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { images.Close() })
	if _, err := images.Busybox(ctx, ""); err != nil {
		t.Fatal(err)
	}
	bus := events.New()
	cs, err := container.Open(ctx, container.Config{DataRoot: root, ExecRoot: t.TempDir(), ShimExe: "/nonexistent", Images: images, Events: bus})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cs.Close)
	return server.New("test", []server.Router{server.Containers{S: cs}, server.Images{S: images}}), cs
}

// The create decoder and the checks behind it never crash the daemon on a
// malformed request, and answer a client error, not 500.
func FuzzCreateContainer(f *testing.F) {
	for _, seed := range []string{
		`{"Image":"busybox","Cmd":["true"]}`,
		`{"Image":"busybox","Cmd":["true"],"HostConfig":{"Memory":-1,"NanoCpus":-5}}`,
		`{"Image":"busybox","Entrypoint":[],"Cmd":null}`,
		`{"Image":"busybox","User":"nobody:nogroup","WorkingDir":"rel"}`,
		`{"Image":"busybox","HostConfig":{"Binds":["a:b:c:d"],"Tmpfs":{"rel":""},"CapAdd":["ALL"],"Ulimits":[{"Name":"x","Soft":1,"Hard":0}]}}`,
		`{"Image":"busybox","HostConfig":{"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":-3},"SecurityOpt":["seccomp=}{"]}}`,
		`{"Image":"busybox","Env":["=x","A"],"Labels":{"":""},"StopSignal":"NOPE"}`,
		`{"Image":"","Cmd":[""]}`, `null`, `[]`, `{"Image":5}`, `{`,
	} {
		f.Add(seed)
	}
	srv, _ := newTestServer(f)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/containers/create", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Errorf("create %q: status %d: %s", body, w.Code, w.Body)
		}
	})
}

// The same for exec create.
func FuzzCreateExec(f *testing.F) {
	for _, seed := range []string{
		`{"Cmd":["true"]}`, `{"Cmd":[]}`, `{"Cmd":null,"Env":["=x"]}`, `{"User":"::","Cmd":["x"],"Privileged":true}`,
		`{"ConsoleSize":[0,0],"Tty":true,"Cmd":["sh"]}`, `{`, `null`, `"x"`,
	} {
		f.Add(seed)
	}
	srv, cs := newTestServer(f)
	if _, _, err := cs.Create(context.Background(), container.CreateRequest{Name: "fuzz", Config: &dockercontainer.Config{Image: "busybox", Cmd: []string{"true"}}}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/containers/fuzz/exec", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code >= 500 || w.Code == http.StatusCreated {
			// fuzz is created, not running: 400 or 409 only.
			t.Errorf("exec create %q: status %d: %s", body, w.Code, w.Body)
		}
	})
}
