package cli

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	"github.com/gantry-dev/gantry/internal/clicontext"
)

// fakeEngine is just enough of the Engine API to check the order and the
// content of the requests the CLI makes.
type fakeEngine struct {
	t          *testing.T
	host       string
	mu         sync.Mutex
	events     []string
	created    []container.CreateRequest
	missing    bool // the first create answers "No such image"
	startErr   string
	exitCode   int
	stdout     string
	stderr     string
	started    chan struct{}
	outputDone chan struct{}
}

func newFakeEngine(t *testing.T) *fakeEngine {
	e := &fakeEngine{t: t, started: make(chan struct{}), outputDone: make(chan struct{})}
	sock := filepath.Join(t.TempDir(), "e.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	e.host = "unix://" + sock
	srv := &http.Server{Handler: e}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return e
}

func (e *fakeEngine) record(format string, a ...any) {
	e.mu.Lock()
	e.events = append(e.events, fmt.Sprintf(format, a...))
	e.mu.Unlock()
}

func (e *fakeEngine) log() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.events...)
}

var versionPrefix = regexp.MustCompile(`^/v[0-9.]+`)

const fakeID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func (e *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Api-Version", "1.51")
	path := versionPrefix.ReplaceAllString(r.URL.Path, "")
	fail := func(code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]string{"message": msg})
	}
	switch {
	case path == "/_ping":
		w.Write([]byte("OK"))
	case path == "/containers/create":
		var req container.CreateRequest
		json.NewDecoder(r.Body).Decode(&req)
		e.mu.Lock()
		e.created = append(e.created, req)
		missing := e.missing
		e.missing = false
		e.mu.Unlock()
		e.record("create name=%s", r.URL.Query().Get("name"))
		if missing {
			fail(404, "No such image: busybox:latest")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(container.CreateResponse{ID: fakeID, Warnings: []string{"a warning"}})
	case path == "/images/create":
		e.record("pull %s:%s", r.URL.Query().Get("fromImage"), r.URL.Query().Get("tag"))
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.Encode(map[string]any{"status": "Pulling from library/busybox", "id": "latest"})
		enc.Encode(map[string]any{"status": "Pull complete", "id": "abc123"})
		enc.Encode(map[string]any{"status": "Status: Downloaded newer image for busybox:latest"})
	case strings.HasSuffix(path, "/attach"):
		e.record("attach stdin=%s stdout=%s stderr=%s", r.URL.Query().Get("stdin"), r.URL.Query().Get("stdout"), r.URL.Query().Get("stderr"))
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			e.t.Error(err)
			return
		}
		go func() {
			defer conn.Close()
			buf.WriteString("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
			buf.Flush()
			select {
			case <-e.started:
			case <-time.After(5 * time.Second):
				return
			}
			frame := func(stream byte, s string) {
				if s == "" {
					return
				}
				hdr := [8]byte{stream}
				binary.BigEndian.PutUint32(hdr[4:], uint32(len(s)))
				conn.Write(hdr[:])
				conn.Write([]byte(s))
			}
			frame(1, e.stdout)
			frame(2, e.stderr)
			close(e.outputDone)
		}()
	case strings.HasSuffix(path, "/wait"):
		e.record("wait condition=%s", r.URL.Query().Get("condition"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		select {
		case <-e.started:
		case <-r.Context().Done():
			return
		}
		select {
		case <-e.outputDone:
		case <-time.After(time.Second):
		}
		json.NewEncoder(w).Encode(container.WaitResponse{StatusCode: int64(e.exitCode)})
	case strings.HasSuffix(path, "/start"):
		e.record("start")
		if e.startErr != "" {
			fail(400, e.startErr)
			return
		}
		close(e.started)
		w.WriteHeader(204)
	case strings.HasSuffix(path, "/kill"):
		e.record("kill %s", r.URL.Query().Get("signal"))
		w.WriteHeader(204)
	default:
		e.record("unexpected %s %s", r.Method, path)
		fail(404, "page not found")
	}
}

// runCLI runs the container commands in this process, as Main would,
// and returns what they printed and the exit status.
func runCLI(t *testing.T, host string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	root := &cobra.Command{Use: "gantry", SilenceUsage: true, SilenceErrors: true, TraverseChildren: true}
	root.Flags().StringP("host", "H", "", "")
	addContainerCommands(root)
	var out, errOut strings.Builder
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(""))
	root.SetArgs(append([]string{"-H", host}, args...))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	var code *exitCode
	switch {
	case err == nil:
	case errors.As(err, &code):
		status = code.code
	default:
		errOut.WriteString(err.Error())
		status = 1
	}
	return out.String(), errOut.String(), status
}

func TestRunAttachedOrder(t *testing.T) {
	e := newFakeEngine(t)
	e.stdout, e.stderr, e.exitCode = "out\n", "err\n", 3
	stdout, stderr, status := runCLI(t, e.host, "run", "--rm", "--name", "x", "busybox", "sh", "-c", "exit 3")
	if status != 3 {
		t.Errorf("status %d, want 3 (stderr %q)", status, stderr)
	}
	if stdout != "out\n" || stderr != "WARNING: a warning\nerr\n" {
		t.Errorf("stdout %q stderr %q", stdout, stderr)
	}
	ev := e.log()
	// Attach and wait (for removal, with --rm) are both in place before start.
	if len(ev) != 4 || ev[0] != "create name=x" || ev[3] != "start" {
		t.Fatalf("requests: %q", ev)
	}
	mid := []string{ev[1], ev[2]}
	if !(contains(mid, "attach stdin= stdout=1 stderr=1") && contains(mid, "wait condition=removed")) {
		t.Errorf("requests: %q", ev)
	}
	req := e.created[0]
	if req.Config.Image != "busybox" || strings.Join(req.Config.Cmd, " ") != "sh -c exit 3" || !req.HostConfig.AutoRemove {
		t.Errorf("create request: %+v %+v", req.Config, req.HostConfig)
	}
}

func TestRunWaitsForNextExitWithoutRm(t *testing.T) {
	e := newFakeEngine(t)
	_, stderr, status := runCLI(t, e.host, "run", "busybox", "true")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	if !contains(e.log(), "wait condition=next-exit") {
		t.Errorf("requests: %q", e.log())
	}
}

func TestRunDetached(t *testing.T) {
	e := newFakeEngine(t)
	stdout, _, status := runCLI(t, e.host, "run", "-d", "busybox", "sleep", "1")
	if status != 0 || stdout != fakeID+"\n" {
		t.Errorf("status %d, stdout %q", status, stdout)
	}
	if ev := e.log(); strings.Join(ev, ";") != "create name=;start" {
		t.Errorf("requests: %q", ev)
	}
	if c := e.created[0].Config; c.AttachStdout || c.AttachStderr || c.AttachStdin {
		t.Errorf("detached run asks to attach: %+v", c)
	}
}

func TestRunPullsMissingImage(t *testing.T) {
	e := newFakeEngine(t)
	e.missing = true
	_, stderr, status := runCLI(t, e.host, "run", "-d", "busybox")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	if ev := e.log(); strings.Join(ev[:3], ";") != "create name=;pull docker.io/library/busybox:latest;create name=" {
		t.Errorf("requests: %q", ev)
	}
	for _, want := range []string{"Unable to find image 'busybox:latest' locally\n", "latest: Pulling from library/busybox\n", "Status: Downloaded newer image for busybox:latest\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
	// --pull=never does not pull.
	e = newFakeEngine(t)
	e.missing = true
	_, stderr, status = runCLI(t, e.host, "run", "--pull=never", "busybox")
	if status != 125 || stderr != "gantry: Error response from daemon: No such image: busybox:latest\n" {
		t.Errorf("--pull=never: status %d, stderr %q", status, stderr)
	}
}

func TestRunStartFailureStatus(t *testing.T) {
	for _, tt := range []struct {
		msg    string
		status int
	}{
		{`failed to create task: exec: "nosuch": executable file not found in $PATH`, 127},
		{`exec: "/etc": is a directory`, 126},
		{`exec: "/x": permission denied`, 126},
		{"cgroup setup failed", 125},
	} {
		e := newFakeEngine(t)
		e.startErr = tt.msg
		_, stderr, status := runCLI(t, e.host, "run", "busybox")
		if status != tt.status || stderr != "WARNING: a warning\ngantry: Error response from daemon: "+tt.msg+"\n" {
			t.Errorf("%q: status %d, stderr %q", tt.msg, status, stderr)
		}
	}
}

func TestUnreachableDaemon(t *testing.T) {
	host := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	want := "Cannot connect to the gantry daemon at " + host + ". Is the gantry daemon running?\n"
	for _, tt := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"run", "busybox"}, 125, "gantry: " + want},
		{[]string{"create", "busybox"}, 125, "gantry: " + want},
		{[]string{"ps"}, 1, want},
		{[]string{"rm", "a", "b"}, 1, want + want},
		{[]string{"logs", "a"}, 1, want},
		{[]string{"exec", "a", "true"}, 1, want},
		{[]string{"attach", "a"}, 1, want},
		{[]string{"start", "a"}, 1, want + "failed to start containers: a\n"},
		{[]string{"inspect", "a"}, 1, want},
	} {
		_, stderr, status := runCLI(t, host, tt.args...)
		if status != tt.status || stderr != tt.stderr {
			t.Errorf("%v: status %d, stderr %q; want %d, %q", tt.args, status, stderr, tt.status, tt.stderr)
		}
	}
}

func TestCommandLineErrors(t *testing.T) {
	host := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	for _, tt := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"run", "--memory=lots", "busybox"}, 125, "invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots'\n"},
		{[]string{"run", "--restart=sometimes", "busybox"}, 125, "gantry: invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', 'unless-stopped', or 'on-unhealthy'\n"},
		{[]string{"run", "-e", "=x", "busybox"}, 125, "invalid argument \"=x\" for \"-e, --env\" flag: invalid environment variable: =x\n"},
		{[]string{"run"}, 1, "gantry: 'gantry run' requires at least 1 argument\n"},
		{[]string{"container", "run"}, 1, "gantry: 'gantry container run' requires at least 1 argument\n"},
		{[]string{"logs"}, 1, "gantry: 'gantry logs' requires 1 argument\n"},
		{[]string{"ps", "x"}, 1, "gantry: 'gantry ps' accepts no arguments\n"},
		{[]string{"ps", "--bogus"}, 125, "unknown flag: --bogus\n"},
		{[]string{"stop", "-t", "soon", "x"}, 125, "invalid argument \"soon\" for \"-t, --timeout\" flag: strconv.ParseInt: parsing \"soon\": invalid syntax\n"},
		{[]string{"run", "-d", "-a", "stdout", "busybox"}, 1, "conflicting options: cannot specify both --attach and --detach\n"},
		{[]string{"run", "-it", "busybox"}, 1, "the input device is not a TTY\n"},
		{[]string{"start", "-a", "x", "y"}, 1, "you cannot start and attach multiple containers at once\n"},
		{[]string{"inspect", "--type", "thing", "x"}, 1, "unknown type: \"thing\": must be one of \"config\", \"container\", \"image\", \"network\", \"node\", \"plugin\", \"secret\", \"service\", \"task\", \"volume\"\n"},
		{[]string{"run", "--detach-keys", "ctrl-1", "busybox"}, 125, "gantry: invalid detach keys (ctrl-1): Unknown character: 'ctrl-1'\n"},
	} {
		_, stderr, status := runCLI(t, host, tt.args...)
		if status != tt.status || stderr != tt.stderr {
			t.Errorf("%v: status %d, stderr %q; want %d, %q", tt.args, status, stderr, tt.status, tt.stderr)
		}
	}
}

func TestHostChoice(t *testing.T) {
	cmd := &cobra.Command{Use: "gantry"}
	cmd.Flags().StringP("host", "H", "", "")
	cmd.Flags().StringP("context", "c", "", "")
	config := t.TempDir()
	t.Setenv("DOCKER_CONFIG", config)
	t.Setenv("GANTRY_HOST", "")
	t.Setenv("DOCKER_HOST", "")
	t.Setenv("DOCKER_CONTEXT", "")
	check := func(what, want string, wantDefault bool) {
		t.Helper()
		h, def, err := hostOf(cmd)
		if err != nil || h != want || def != wantDefault {
			t.Errorf("%s: host %q default %v err %v; want %q %v", what, h, def, err, want, wantDefault)
		}
	}
	check("nothing set", defaultHost, true)

	// A context made and selected through the docker CLI's store.
	store := clicontext.Open(config)
	for name, host := range map[string]string{"remote": "tcp://127.0.0.1:2376", "other": "unix:///other.sock"} {
		if err := store.Create(clicontext.Context{Name: name, Endpoints: map[string]clicontext.Endpoint{"docker": {Host: host}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(config, "config.json"), []byte(`{"auths":{"x":{"auth":"eDp5"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := store.Use("remote"); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(config, "config.json")); !strings.Contains(string(data), `"eDp5"`) {
		t.Errorf("context use lost config.json's other keys: %s", data)
	}
	check("current context", "tcp://127.0.0.1:2376", false)
	t.Setenv("DOCKER_CONTEXT", "other")
	check("DOCKER_CONTEXT", "unix:///other.sock", false)
	t.Setenv("DOCKER_HOST", "unix:///docker.sock")
	check("DOCKER_HOST over contexts", "unix:///docker.sock", false)
	t.Setenv("GANTRY_HOST", "unix:///gantry.sock")
	check("GANTRY_HOST over DOCKER_HOST", "unix:///gantry.sock", false)
	cmd.Flags().Set("context", "remote")
	check("--context over the environment", "tcp://127.0.0.1:2376", false)
	cmd.Flags().Set("host", "tcp://127.0.0.1:2375")
	check("-H over everything", "tcp://127.0.0.1:2375", false)

	cmd.Flags().Set("host", "")
	cmd.Flags().Set("context", "nope")
	if _, _, err := hostOf(cmd); err == nil || !strings.Contains(err.Error(), `context "nope" does not exist`) {
		t.Errorf("a missing context: %v", err)
	}
	if err := store.Use(clicontext.DefaultName); err != nil {
		t.Fatal(err)
	}
	if name, _ := store.Current(); name != "" {
		t.Errorf("use default left currentContext %q", name)
	}
}

func TestStartStatus(t *testing.T) {
	for msg, want := range map[string]int{
		`exec: "x": executable file not found in $PATH`: 127,
		"open /bin/x: no such file or directory":        127,
		"exec: permission denied":                       126,
		"read /etc: is a directory":                     126,
		"No such image: x":                              125,
	} {
		if got := startStatus(errors.New(msg)); got != want {
			t.Errorf("startStatus(%q) = %d, want %d", msg, got, want)
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
