package daemon_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// Each bad request gets one line, the right status and exit code, and
// leaves nothing behind.
func TestBadInput(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("create", "--name", "taken", "busybox", "true")
	takenID := inspect(d, "taken", "{{.Id}}")
	d.MustDocker("run", "-d", "--name", "busy", "busybox", "sleep", "600")

	cases := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"unknown image", []string{"run", "--pull", "never", "--rm", "nosuchimage"}, 125, "No such image"},
		{"name in use", []string{"create", "--name", "taken", "busybox", "true"}, 1, `is already in use by container "` + takenID + `"`},
		{"bad name", []string{"create", "--name", "no/slashes", "busybox", "true"}, 1, "Invalid container name"},
		{"unknown container", []string{"start", "nosuchcontainer"}, 1, "No such container: nosuchcontainer"},
		{"rm running", []string{"rm", "busy"}, 1, "container is running: stop the container before removing or force remove"},
		{"bad memory", []string{"run", "--memory=lots", "busybox", "true"}, 125, "invalid argument \"lots\""},
		{"tiny memory", []string{"run", "--memory=1m", "busybox", "true"}, 125, "Minimum memory limit allowed is 6MB"},
		{"bad restart", []string{"run", "--restart=sometimes", "busybox", "true"}, 125, "sometimes"},
		{"bad env", []string{"run", "-e", "=x", "busybox", "true"}, 125, "invalid environment variable: =x"},
		{"missing command", []string{"run", "--rm", "busybox", "nosuchprogram"}, 127, "executable file not found in $PATH"},
		{"missing path", []string{"run", "--rm", "busybox", "/bin/nosuch"}, 127, "no such file or directory"},
		{"bad signal", []string{"kill", "-s", "SIGNOPE", "busy"}, 1, "invalid signal"},
		{"exec stopped", []string{"exec", "taken", "true"}, 1, "is not running"},
		{"bad capability", []string{"run", "--rm", "--cap-add", "NOPE", "busybox", "true"}, 125, "unknown capability"},
		{"bad ulimit", []string{"run", "--rm", "--ulimit", "nofile=10:5", "busybox", "true"}, 125, "ulimit"},
		{"bad log driver", []string{"run", "--rm", "--log-driver", "syslog", "busybox", "true"}, 125, "log driver"},
		{"rm and restart", []string{"run", "--rm", "--restart", "always", "busybox", "true"}, 125, "cannot specify both --restart and --rm"},
	}
	before := entries(filepath.Join(d.DataRoot, "containers"))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := d.Docker(c.args...)
			if res.Code != c.code || !strings.Contains(res.Stderr, c.contains) {
				t.Errorf("docker %v: exit %d (want %d)\nstderr: %s\nwant it to contain %q", c.args, res.Code, c.code, res.Stderr, c.contains)
			}
		})
	}
	// Containers whose start failed are kept, as Docker keeps them; the
	// others made nothing.
	after := entries(filepath.Join(d.DataRoot, "containers"))
	for _, id := range after {
		if contains(before, id) {
			continue
		}
		if st := inspect(d, id, "{{.State.Status}} {{.State.ExitCode}}"); st != "created 127" {
			t.Errorf("a failed run left container %s in state %q", id[:12], st)
		}
		d.MustDocker("rm", id)
	}
	// The running container's root filesystem and network namespace.
	if n := len(d.Mounts()); n != 2 {
		t.Errorf("%d mounts, want only the running container's two: %v", n, d.Mounts())
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// The API answers malformed and impossible requests with Docker's status
// codes and JSON error body, and the daemon keeps serving.
func TestAPIStatusCodes(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	c := d.HTTPClient()
	d.MustDocker("create", "--name", "c1", "busybox", "true")
	d.MustDocker("run", "-d", "--name", "r1", "busybox", "sleep", "600")
	cases := []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/containers/nosuch/json", "", 404},
		{"POST", "/containers/create", "{", 400},
		{"POST", "/containers/create", "", 400},
		{"POST", "/containers/create", `{"Image":"busybox"}`, 400}, // busybox has a command... its image config is sh
		{"POST", "/containers/create?name=c1", `{"Image":"busybox","Cmd":["true"]}`, 409},
		{"POST", "/containers/create", `{"Image":"nosuch","Cmd":["true"]}`, 404},
		{"POST", "/containers/create", `{"Image":"busybox","Cmd":["true"],"HostConfig":{"Memory":-5}}`, 400},
		{"POST", "/containers/r1/start", "", 304},
		{"POST", "/containers/c1/stop", "", 304},
		{"POST", "/containers/c1/kill", "", 409},
		{"POST", "/containers/c1/wait?condition=sometime", "", 400},
		{"POST", "/containers/r1/exec", `{"Cmd":[]}`, 400},
		{"POST", "/containers/r1/exec", `[1,2`, 400},
		{"POST", "/exec/nosuch/start", `{}`, 404},
		{"GET", "/v1.12/containers/json", "", 400},
		{"GET", "/v9.99/containers/json", "", 400},
		{"GET", "/nosuch/endpoint", "", 404},
		{"DELETE", "/containers/r1", "", 409},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, "http://gantry"+tc.path, strings.NewReader(tc.body))
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if tc.path == "/containers/create" && tc.body == `{"Image":"busybox"}` {
			// The offline busybox image has a command (sh), so this one
			// is valid: check that and clean up.
			if resp.StatusCode != 201 {
				t.Errorf("create from the image's command: %d %s", resp.StatusCode, body)
			}
			var created struct{ Id string }
			_ = json.Unmarshal(body, &created)
			d.MustDocker("rm", created.Id)
			continue
		}
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s %s: status %d, want %d (%s)", tc.method, tc.path, tc.body, resp.StatusCode, tc.status, body)
			continue
		}
		if tc.status >= 400 {
			var e struct{ Message string }
			if err := json.Unmarshal(body, &e); err != nil || e.Message == "" || strings.Contains(e.Message, "\n") {
				t.Errorf("%s %s: error body %q is not Docker's one-line {\"message\"}", tc.method, tc.path, body)
			}
		}
	}
	if _, err := os.Stat(d.Socket()); err != nil {
		t.Fatalf("the daemon is gone: %v", err)
	}
	d.MustDocker("ps")
}
