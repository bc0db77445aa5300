package cli_test

import (
	"bytes"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// Integration tests of the container commands against a real daemon, with
// the docker CLI as the reference where its output is deterministic.
// Helpers here are prefixed ctr.

// ctrDaemon starts a daemon with busybox:latest.
func ctrDaemon(t *testing.T) *fixture.Daemon {
	t.Helper()
	d := fixture.NewDaemon(t)
	d.Busybox()
	return d
}

// ctrWaitFor polls cond for up to 10 s.
func ctrWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// ctrDurations are the times ps prints ("5 seconds ago", "Up About a
// minute"), which change between two commands.
var ctrDurations = regexp.MustCompile(`(\d+|Less than a|About an?) (second|minute|hour|day)s?`)

// ctrSame runs the same arguments through gantry and docker until both
// print the same (output may name the current second; in the end, times
// and the column widths they make are left out of the comparison), and
// fails with both outputs if they still differ.
func ctrSame(t *testing.T, d *fixture.Daemon, args ...string) string {
	t.Helper()
	var g, k fixture.Result
	for range 3 {
		g, k = d.Gantry(args...), d.Docker(args...)
		if g.Stdout == k.Stdout && g.Code == k.Code {
			return g.Stdout
		}
		time.Sleep(300 * time.Millisecond)
	}
	mask := func(s string) string {
		return regexp.MustCompile(` {2,}`).ReplaceAllString(ctrDurations.ReplaceAllString(s, "TIME"), "  ")
	}
	if mask(g.Stdout) == mask(k.Stdout) && g.Code == k.Code {
		return g.Stdout
	}
	t.Errorf("%v differs from docker:\ngantry (exit %d):\n%s%s\ndocker (exit %d):\n%s%s", args, g.Code, g.Stdout, g.Stderr, k.Code, k.Stdout, k.Stderr)
	return g.Stdout
}

func ctrInspect(t *testing.T, d *fixture.Daemon, name, format string) string {
	t.Helper()
	return strings.TrimSpace(d.MustGantry("inspect", "-f", format, name))
}

func TestContainerRun(t *testing.T) {
	d := ctrDaemon(t)
	if out := d.MustGantry("run", "--rm", "busybox", "echo", "hello"); out != "hello\n" {
		t.Errorf("run printed %q", out)
	}
	res := d.Gantry("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
	if res.Code != 3 || res.Stdout != "out\n" || res.Stderr != "err\n" {
		t.Errorf("run: exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
	}
	res = d.Gantry("run", "--rm", "-a", "stderr", "busybox", "sh", "-c", "echo out; echo err >&2")
	if res.Code != 0 || res.Stdout != "" || res.Stderr != "err\n" {
		t.Errorf("run -a stderr: exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
	}
	res = d.Gantry("run", "--rm", "-e", "A=1", "-w", "/tmp", "-u", "1:2", "--hostname", "box", "busybox", "sh", "-c", "echo $A $(pwd) $(id -u):$(id -g) $(hostname)")
	if res.Stdout != "1 /tmp 1:2 box\n" {
		t.Errorf("run with settings printed %q (%s)", res.Stdout, res.Stderr)
	}
	id := strings.TrimSpace(d.MustGantry("run", "-d", "--name", "bg", "busybox", "sleep", "600"))
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Errorf("run -d printed %q, want the full ID", id)
	}
	if st := ctrInspect(t, d, "bg", "{{.State.Status}} {{.Id}}"); st != "running "+id {
		t.Errorf("after run -d: %s", st)
	}
	// --rm removes the container before run returns.
	d.MustGantry("run", "--rm", "--name", "gone", "busybox", "true")
	if res := d.Gantry("inspect", "gone"); res.Code == 0 {
		t.Errorf("--rm left the container")
	}

	// Failures and their statuses, as docker's (docker is asked too where
	// the daemon decides).
	for _, tt := range []struct {
		args   []string
		status int
		prefix string
		docker bool
	}{
		{[]string{"run", "busybox", "nosuchcommand"}, 127, "gantry: Error response from daemon: ", true},
		{[]string{"run", "busybox", "/etc"}, 126, "gantry: Error response from daemon: ", true},
		{[]string{"run", "--name", "bg", "busybox", "true"}, 125, "gantry: Error response from daemon: Conflict.", true},
		{[]string{"run", "--pull=never", "nosuchimage"}, 125, "gantry: Error response from daemon: ", true},
		{[]string{"run", "--memory=lots", "busybox"}, 125, `invalid argument "lots" for "-m, --memory" flag: invalid size: 'lots'`, true},
		{[]string{"run", "--restart=sometimes", "busybox"}, 125, "gantry: invalid restart policy: unknown policy 'sometimes'", false},
		{[]string{"run", "-e", "=x", "busybox"}, 125, `invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x`, true},
	} {
		res := d.Gantry(tt.args...)
		if res.Code != tt.status || !strings.HasPrefix(res.Stderr, tt.prefix) || strings.Count(res.Stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d and one line starting %q", tt.args, res.Code, res.Stderr, tt.status, tt.prefix)
		}
		if !tt.docker {
			continue
		}
		if k := d.Docker(tt.args...); k.Code != tt.status {
			t.Errorf("docker %v: exit %d (%s), gantry's status assumed %d", tt.args, k.Code, k.Stderr, tt.status)
		}
	}
	// With --rm, a container that failed to start is gone when run returns.
	if res := d.Gantry("run", "--rm", "--name", "failed", "busybox", "nosuchcommand"); res.Code != 127 {
		t.Errorf("run --rm of a missing command: exit %d", res.Code)
	}
	if res := d.Gantry("inspect", "failed"); res.Code == 0 {
		t.Errorf("run --rm left a container that failed to start (the daemon must remove it)")
	}
	// stdin
	cmd := d.GantryCommand("run", "-i", "--rm", "busybox", "cat")
	cmd.Stdin = strings.NewReader("from stdin\n")
	if out, err := cmd.Output(); err != nil || string(out) != "from stdin\n" {
		t.Errorf("run -i: %q, %v", out, err)
	}
	// create, then start -a
	d.MustGantry("create", "--name", "later", "busybox", "echo", "started")
	if st := ctrInspect(t, d, "later", "{{.State.Status}}"); st != "created" {
		t.Errorf("after create: %s", st)
	}
	if out := d.MustGantry("start", "-a", "later"); out != "started\n" {
		t.Errorf("start -a printed %q", out)
	}
	if res := d.Gantry("start", "-a", "later"); res.Code != 0 {
		t.Errorf("second start -a: %d %s", res.Code, res.Stderr)
	}
	d.MustGantry("create", "--name", "fails", "busybox", "sh", "-c", "exit 4")
	if res := d.Gantry("start", "-a", "fails"); res.Code != 4 {
		t.Errorf("start -a of a failing container: exit %d", res.Code)
	}
}

func TestContainerPsMatchesDocker(t *testing.T) {
	d := ctrDaemon(t)
	d.MustGantry("create", "--name", "created", "-l", "tier=db", "busybox", "echo", "a long command that is truncated")
	d.Gantry("run", "--name", "exited", "busybox", "sh", "-c", "exit 3")
	d.MustGantry("run", "-d", "--name", "running", "-l", "tier=web", "busybox", "sleep", "600")
	d.MustGantry("run", "-d", "--name", "paused", "busybox", "sleep", "600")
	d.MustGantry("pause", "paused")

	ps := ctrSame(t, d, "ps", "-a")
	for _, want := range []string{"CONTAINER ID   IMAGE", `"sleep 600"`, "Exited (3)", "Created", "(Paused)", `"echo a long command…"`} {
		if !strings.Contains(ps, want) {
			t.Errorf("ps -a lacks %q:\n%s", want, ps)
		}
	}
	for _, args := range [][]string{
		{"ps"},
		{"ps", "-q"},
		{"ps", "-aq"},
		{"ps", "-a", "--no-trunc"},
		{"ps", "-a", "-s"},
		{"ps", "-n", "2"},
		{"ps", "-l"},
		{"ps", "-a", "--filter", "status=exited"},
		{"ps", "-a", "--filter", "name=run"},
		{"ps", "-a", "--filter", "label=tier=web"},
		{"ps", "-a", "--filter", "ancestor=busybox"},
		{"ps", "-a", "--filter", "exited=3"},
		{"ps", "-a", "--format", "{{.Names}}\t{{.Image}}\t{{.State}}\t{{.Labels}}"},
		{"ps", "-a", "--format", "table {{.Names}}\t{{.Label \"tier\"}}\t{{.Command}}"},
		{"ps", "-a", "--format", "{{.Names}} {{.Size}}"},
		{"container", "ls", "-a"},
		{"container", "list", "-a", "--format", "{{.ID}}"},
	} {
		ctrSame(t, d, args...)
	}
	// The JSON form has every field of docker's (docker 29 adds a few).
	g := d.MustGantry("ps", "-a", "--format", "json")
	if n := strings.Count(g, "\n"); n != 4 {
		t.Errorf("ps --format json printed %d lines:\n%s", n, g)
	}
}

func TestContainerLifecycle(t *testing.T) {
	d := ctrDaemon(t)
	d.MustGantry("run", "-d", "--name", "web", "busybox", "sleep", "600")
	for _, tt := range []struct {
		args []string
		out  string
		st   string
	}{
		{[]string{"pause", "web"}, "web\n", "paused"},
		{[]string{"unpause", "web"}, "web\n", "running"},
		{[]string{"stop", "-t", "1", "web"}, "web\n", "exited"},
		{[]string{"start", "web"}, "web\n", "running"},
		{[]string{"restart", "-t", "1", "web"}, "web\n", "running"},
		{[]string{"kill", "-s", "KILL", "web"}, "web\n", "exited"},
	} {
		if out := d.MustGantry(tt.args...); out != tt.out {
			t.Errorf("%v printed %q", tt.args, out)
		}
		if st := ctrInspect(t, d, "web", "{{.State.Status}}"); st != tt.st {
			t.Errorf("after %v: %s", tt.args, st)
		}
	}
	if out := strings.TrimSpace(d.MustGantry("wait", "web")); out != "137" {
		t.Errorf("wait printed %q", out)
	}
	d.MustGantry("rename", "web", "site")
	d.MustGantry("start", "site")
	top := d.MustGantry("top", "site")
	if !strings.Contains(top, "sleep 600") || !strings.HasPrefix(top, "UID") {
		t.Errorf("top:\n%s", top)
	}
	// Errors: one line per container, exit 1, as docker's.
	for _, args := range [][]string{
		{"stop", "nosuch1", "nosuch2"},
		{"kill", "nosuch"},
		{"pause", "nosuch"},
		{"rm", "nosuch"},
		{"rm", "site"}, // running
		{"wait", "nosuch"},
		{"top", "nosuch"},
		{"logs", "nosuch"},
		{"container", "inspect", "nosuch"},
		{"exec", "nosuch", "true"},
	} {
		g, k := d.Gantry(args...), d.Docker(args...)
		if g.Code != k.Code || g.Stdout != k.Stdout || g.Stderr != k.Stderr {
			t.Errorf("%v:\ngantry exit %d, %q %q\ndocker exit %d, %q %q", args, g.Code, g.Stdout, g.Stderr, k.Code, k.Stdout, k.Stderr)
		}
	}
	if res := d.Gantry("rm", "-f", "nosuch"); res.Code != 0 || res.Stdout != "" {
		t.Errorf("rm -f of nothing: %d %q %q", res.Code, res.Stdout, res.Stderr)
	}
	if out := d.MustGantry("rm", "-f", "site"); out != "site\n" {
		t.Errorf("rm -f printed %q", out)
	}
	if out := d.MustGantry("ps", "-aq"); out != "" {
		t.Errorf("containers left: %q", out)
	}
}

func TestContainerLogsExecInspect(t *testing.T) {
	d := ctrDaemon(t)
	d.MustGantry("run", "-d", "--name", "app", "busybox", "sh", "-c", "echo one; echo two >&2; echo three; sleep 600")
	ctrWaitFor(t, "the logs", func() bool { return strings.Contains(d.MustGantry("logs", "app"), "three") })
	res := d.Gantry("logs", "app")
	if res.Stdout != "one\nthree\n" || res.Stderr != "two\n" {
		t.Errorf("logs: stdout %q stderr %q", res.Stdout, res.Stderr)
	}
	ctrSame(t, d, "logs", "--tail", "1", "app")
	ctrSame(t, d, "logs", "-n", "2", "app")
	if out := d.MustGantry("logs", "-t", "app"); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z one\n`).MatchString(out) {
		t.Errorf("logs -t: %q", out)
	}

	// inspect prints the daemon's JSON as docker does, and finds images
	// too (before any exec: the daemon lists ExecIDs in no fixed order).
	ctrSame(t, d, "inspect", "app")
	ctrSame(t, d, "container", "inspect", "app")
	ctrSame(t, d, "inspect", "--format", "json", "app")
	ctrSame(t, d, "inspect", "-f", "{{.Name}} {{.State.Running}} {{json .Config.Cmd}}", "app")
	ctrSame(t, d, "inspect", "-f", "{{.Id}}", "busybox")
	ctrSame(t, d, "inspect", "--type", "container", "-f", "{{.Name}}", "app")
	if out := d.MustGantry("exec", "-e", "X=1", "-w", "/tmp", "app", "sh", "-c", "echo $X $(pwd)"); out != "1 /tmp\n" {
		t.Errorf("exec printed %q", out)
	}
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"exec", "app", "sh", "-c", "exit 7"}, 7},
		{[]string{"exec", "app", "nosuchcommand"}, 127},
	} {
		if res := d.Gantry(tt.args...); res.Code != tt.code {
			t.Errorf("%v: exit %d, want %d (%s)", tt.args, res.Code, tt.code, res.Stderr)
		}
	}
	cmd := d.GantryCommand("exec", "-i", "app", "cat")
	cmd.Stdin = strings.NewReader("piped\n")
	if out, err := cmd.Output(); err != nil || string(out) != "piped\n" {
		t.Errorf("exec -i: %q, %v", out, err)
	}
	if res := d.Gantry("exec", "-d", "app", "touch", "/tmp/detached"); res.Code != 0 || res.Stdout != "" {
		t.Errorf("exec -d: %d %q %q", res.Code, res.Stdout, res.Stderr)
	}
	ctrWaitFor(t, "the detached exec", func() bool { return d.Gantry("exec", "app", "test", "-e", "/tmp/detached").Code == 0 })

	if res := d.Gantry("inspect", "app", "nosuch"); res.Code != 1 || !strings.HasPrefix(res.Stdout, "[\n    {") ||
		!strings.Contains(strings.ToLower(res.Stderr), "no such object: nosuch") {
		t.Errorf("inspect with a missing name: %d %q", res.Code, res.Stderr)
	}
}

// ctrPTY runs cmd on a pseudo-terminal, typing each input after the
// previous output contained its cue, and returns the output and status.
func ctrPTY(t *testing.T, cmd *exec.Cmd, steps ...[2]string) (string, int) {
	t.Helper()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	var out bytes.Buffer
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			<-mu
			out.Write(buf[:n])
			mu <- struct{}{}
			if err != nil {
				return
			}
		}
	}()
	seen := func() string { <-mu; s := out.String(); mu <- struct{}{}; return s }
	for _, step := range steps {
		cue, input := step[0], step[1]
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(seen(), cue) {
			if time.Now().After(deadline) {
				t.Fatalf("%v: no %q in %q", cmd.Args, cue, seen())
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		ptmx.Write([]byte(input))
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err = <-errc:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%v did not end; output %q", cmd.Args, seen())
	}
	// What the program printed last is still in the terminal: read it
	// to the end (the master reads EIO once the slave is closed).
	select {
	case <-drained:
	case <-time.After(time.Second):
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return seen(), code
}

func TestContainerTTYDetachAttach(t *testing.T) {
	d := ctrDaemon(t)
	out, code := ctrPTY(t, d.GantryCommand("run", "-it", "--name", "shell", "busybox", "sh"),
		[2]string{"#", "echo hel''lo\r"}, [2]string{"hello", "\x10\x11"})
	if code != 0 {
		t.Fatalf("detach: exit %d, output %q", code, out)
	}
	if st := ctrInspect(t, d, "shell", "{{.State.Status}}"); st != "running" {
		t.Fatalf("after detach: %s", st)
	}
	// attach, detach with other keys, attach again and leave.
	out, code = ctrPTY(t, d.GantryCommand("attach", "--detach-keys", "ctrl-a,x", "shell"),
		[2]string{"", "echo again\r"}, [2]string{"again", "\x01x"})
	if code != 1 || !strings.Contains(out, "read escape sequence") {
		t.Errorf("attach detach: exit %d, output %q", code, out)
	}
	out, code = ctrPTY(t, d.GantryCommand("attach", "shell"), [2]string{"", "exit 5\r"})
	if code != 5 {
		t.Errorf("attach then exit 5: exit %d, output %q", code, out)
	}
	// A TTY exec, and its exit status.
	d.MustGantry("run", "-d", "--name", "svc", "busybox", "sleep", "600")
	out, code = ctrPTY(t, d.GantryCommand("exec", "-it", "svc", "sh", "-c", "tty; exit 6"))
	if code != 6 || !strings.Contains(out, "/dev/pts/") {
		t.Errorf("exec -it: exit %d, output %q", code, out)
	}
	// -t without a terminal on stdin is refused before anything is made.
	cmd := d.GantryCommand("run", "-it", "busybox", "true")
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = strings.NewReader(""), &stderr
	if err := cmd.Run(); err == nil || stderr.String() != "the input device is not a TTY\n" {
		t.Errorf("run -it without a terminal: %v %q", err, stderr.String())
	}
}

func TestContainerRunSignalProxy(t *testing.T) {
	d := ctrDaemon(t)
	cmd := d.GantryCommand("run", "--rm", "--name", "trapper", "busybox", "sh", "-c", `trap "echo got TERM; exit 42" TERM; echo ready; while :; do sleep 0.1; done`)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctrWaitFor(t, "the container", func() bool { return strings.Contains(d.Gantry("logs", "trapper").Stdout, "ready") })
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 42 || !strings.Contains(out.String(), "got TERM") {
		t.Errorf("run after SIGTERM: %v, output %q", err, out.String())
	}
}

func TestVersionAndInfo(t *testing.T) {
	d := ctrDaemon(t)
	out := d.MustGantry("version")
	for _, want := range []string{"Client:\n Version:", "Server:", " Engine:\n  Version:", "API version:"} {
		if !strings.Contains(out, want) {
			t.Errorf("version lacks %q:\n%s", want, out)
		}
	}
	if v := strings.TrimSpace(d.MustGantry("version", "-f", "{{.Server.APIVersion}}")); v == "" {
		t.Errorf("version -f printed nothing")
	}
	info := d.MustGantry("info")
	for _, want := range []string{"Client:\n", "Server:\n Containers: 0\n", " Images: 1\n"} {
		if !strings.Contains(info, want) {
			t.Errorf("info lacks %q:\n%s", want, info)
		}
	}
	ctrSame(t, d, "info", "--format", "{{.Containers}} {{.Images}} {{.OSType}}")
}
