package runtimecli_test

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/fixture"
	"github.com/gantry-dev/gantry/internal/runtime"
)

func state(t *testing.T, r *fixture.Runtime, id string) runtime.State {
	t.Helper()
	var st runtime.State
	if err := json.Unmarshal([]byte(r.Must("state", id)), &st); err != nil {
		t.Fatalf("state %s: %v", id, err)
	}
	return st
}

func waitStatus(t *testing.T, r *fixture.Runtime, id, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := state(t, r, id)
		if st.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s is %s, want %s", id, st.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunForegroundOutputAndExitStatus(t *testing.T) {
	r := fixture.NewRuntime(t)
	b := fixture.Bundle(t, fixture.Spec("fg", "sh", "-c", "echo out; echo err >&2; exit 7"))
	res := r.Run("run", "--bundle", b, "fg")
	if res.Code != 7 {
		t.Fatalf("exit code %d, want 7 (stderr %q)", res.Code, res.Stderr)
	}
	if res.Stdout != "out\n" || res.Stderr != "err\n" {
		t.Errorf("stdout %q stderr %q, want \"out\\n\" and \"err\\n\"", res.Stdout, res.Stderr)
	}
	// run removes the container once it has exited
	r.AssertClean(t, "fg", b)
}

func TestRunStdin(t *testing.T) {
	r := fixture.NewRuntime(t)
	b := fixture.Bundle(t, fixture.Spec("in", "tr", "a-z", "A-Z"))
	res := r.RunIn(strings.NewReader("hello\n"), "run", "-b", b, "in")
	if res.Code != 0 || res.Stdout != "HELLO\n" {
		t.Fatalf("got %q (exit %d, stderr %q), want HELLO", res.Stdout, res.Code, res.Stderr)
	}
}

func TestCreateStartStateDelete(t *testing.T) {
	r := fixture.NewRuntime(t)
	b := fixture.Bundle(t, fixture.Spec("life", "sleep", "100"))
	pidFile := filepath.Join(t.TempDir(), "pid")
	r.Must("create", "--bundle", b, "--pid-file", pidFile, "life")

	st := state(t, r, "life")
	if st.Status != "created" || st.ID != "life" || st.Bundle != b || st.Version == "" {
		t.Fatalf("state after create: %+v", st)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if pid, _ := strconv.Atoi(string(data)); pid != st.Pid || pid == 0 {
		t.Errorf("pid file says %q, state says %d", data, st.Pid)
	}
	// The init waits in its namespaces, but the user's program has not run.
	if cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/cmdline"); strings.Contains(string(cmd), "sleep") {
		t.Errorf("program already running before start: %q", cmd)
	}

	r.Must("start", "life")
	waitStatus(t, r, "life", "running")
	if res := r.Run("start", "life"); res.Code == 0 || !strings.Contains(res.Stderr, "already running") {
		t.Errorf("second start: exit %d, %q", res.Code, res.Stderr)
	}

	list := r.Must("list")
	if !strings.Contains(list, "life") || !strings.Contains(list, "running") || !strings.HasPrefix(list, "ID") {
		t.Errorf("list:\n%s", list)
	}
	var states []runtime.State
	if err := json.Unmarshal([]byte(r.Must("list", "--format", "json")), &states); err != nil || len(states) != 1 || states[0].Owner != "root" {
		t.Errorf("list json: %v %+v", err, states)
	}
	if q := r.Must("list", "-q"); q != "life\n" {
		t.Errorf("list -q = %q", q)
	}

	// delete refuses a running container, as runc does
	res := r.Run("delete", "life")
	if res.Code == 0 || !strings.Contains(res.Stderr, "not stopped") {
		t.Errorf("delete of running: exit %d %q", res.Code, res.Stderr)
	}
	r.Must("kill", "life", "KILL")
	waitStatus(t, r, "life", "stopped")
	if st := state(t, r, "life"); st.Pid != 0 {
		t.Errorf("stopped container reports pid %d", st.Pid)
	}
	r.Must("delete", "life")
	r.AssertClean(t, "life", b)

	res = r.Run("state", "life")
	if res.Code == 0 || !strings.Contains(res.Stderr, `container "life" does not exist`) {
		t.Errorf("state of deleted: exit %d %q", res.Code, res.Stderr)
	}
}

func TestDeleteCreatedContainer(t *testing.T) {
	r := fixture.NewRuntime(t)
	b := fixture.Bundle(t, fixture.Spec("created", "true"))
	r.Must("create", "-b", b, "created")
	r.Must("delete", "created")
	r.AssertClean(t, "created", b)
}

func TestDeleteForce(t *testing.T) {
	r := fixture.NewRuntime(t)
	b := fixture.Bundle(t, fixture.Spec("force", "sleep", "100"))
	r.Must("run", "-d", "-b", b, "force")
	waitStatus(t, r, "force", "running")
	r.Must("delete", "--force", "force")
	r.AssertClean(t, "force", b)
	// force on a missing container is not an error, as in runc
	r.Must("delete", "-f", "force")
}

func TestKillSignals(t *testing.T) {
	r := fixture.NewRuntime(t)
	// The trap proves the signal reached the program and which one it was.
	spec := fixture.Spec("sig", "sh", "-c", "trap 'echo got-usr1 > /tmp/sig; exit 0' USR1; while :; do sleep 0.05; done")
	b := fixture.Bundle(t, spec)
	r.Must("run", "-d", "-b", b, "sig")
	waitStatus(t, r, "sig", "running")
	time.Sleep(100 * time.Millisecond) // let sh install the trap
	r.Must("kill", "sig", "USR1")
	waitStatus(t, r, "sig", "stopped")
	if data, _ := os.ReadFile(filepath.Join(b, "rootfs/tmp/sig")); string(data) != "got-usr1\n" {
		t.Errorf("trap output %q", data)
	}
	if res := r.Run("kill", "sig", "KILL"); res.Code == 0 {
		t.Errorf("kill of a stopped container succeeded")
	}
	if res := r.Run("kill", "sig", "NOPE"); res.Code == 0 || !strings.Contains(res.Stderr, `unknown signal "NOPE"`) {
		t.Errorf("kill NOPE: exit %d %q", res.Code, res.Stderr)
	}
	r.Must("delete", "sig")

	// numbers and SIG-prefixed names; default is TERM; --all reaches every process
	b2 := fixture.Bundle(t, fixture.Spec("sig2", "sh", "-c", "sleep 100 & sleep 100"))
	r.Must("run", "-d", "-b", b2, "sig2")
	waitStatus(t, r, "sig2", "running")
	r.Must("kill", "--all", "sig2", "9")
	waitStatus(t, r, "sig2", "stopped")
	r.Must("delete", "sig2")
	r.AssertClean(t, "sig2", b2)

	b3 := fixture.Bundle(t, fixture.Spec("sig3", "sleep", "100"))
	r.Must("run", "-d", "-b", b3, "sig3")
	waitStatus(t, r, "sig3", "running")
	r.Must("kill", "sig3", "SIGKILL")
	waitStatus(t, r, "sig3", "stopped")
}

func TestExec(t *testing.T) {
	r := fixture.NewRuntime(t)
	b := fixture.Bundle(t, fixture.Spec("ex", "sleep", "100"))
	r.Must("run", "-d", "-b", b, "ex")
	waitStatus(t, r, "ex", "running")

	res := r.Run("exec", "ex", "sh", "-c", "echo $FOO; pwd; id -u; exit 3")
	if res.Code != 3 {
		t.Fatalf("exec exit %d, want 3 (stderr %q)", res.Code, res.Stderr)
	}
	res = r.Run("exec", "-e", "FOO=bar", "--cwd", "/tmp", "--user", "65534:65534", "ex", "sh", "-c", "echo $FOO; pwd; id -u")
	if res.Stdout != "bar\n/tmp\n65534\n" {
		t.Errorf("exec with env/cwd/user: %q (stderr %q)", res.Stdout, res.Stderr)
	}

	// --process reads a process JSON
	proc := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(proc, []byte(`{"args":["echo","from-json"],"cwd":"/","user":{"uid":0,"gid":0},"env":["PATH=/bin"]}`), 0o644)
	if out := r.Must("exec", "--process", proc, "ex"); out != "from-json\n" {
		t.Errorf("exec --process: %q", out)
	}

	// detached exec with a pid file
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	r.Must("exec", "-d", "--pid-file", pidFile, "ex", "sleep", "50")
	if data, err := os.ReadFile(pidFile); err != nil || len(data) == 0 {
		t.Errorf("exec pid file: %v %q", err, data)
	}
	var pids []int
	json.Unmarshal([]byte(r.Must("ps", "--format", "json", "ex")), &pids)
	if len(pids) != 2 {
		t.Errorf("ps after detached exec: %v, want 2 pids", pids)
	}
	if table := r.Must("ps", "ex"); !strings.Contains(table, "PID") || !strings.Contains(table, "sleep 50") {
		t.Errorf("ps table:\n%s", table)
	}

	// a paused container refuses exec unless told otherwise
	r.Must("pause", "ex")
	if res := r.Run("exec", "ex", "true"); res.Code != 255 || !strings.Contains(res.Stderr, "paused") {
		t.Errorf("exec into paused: exit %d %q", res.Code, res.Stderr)
	}
	r.Must("resume", "ex")
}

func TestSpecCommand(t *testing.T) {
	r := fixture.NewRuntime(t)
	dir := t.TempDir()
	r.Must("spec", "--bundle", dir)
	var spec map[string]any
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if err := json.Unmarshal(data, &spec); err != nil || spec["ociVersion"] == nil {
		t.Fatalf("spec output: %v %s", err, data)
	}
	if res := r.Run("spec", "--bundle", dir); res.Code == 0 || !strings.Contains(res.Stderr, "exists") {
		t.Errorf("spec over an existing config.json: exit %d %q", res.Code, res.Stderr)
	}
	dir2 := t.TempDir()
	r.Must("spec", "-b", dir2, "--seccomp-default")
	data, _ = os.ReadFile(filepath.Join(dir2, "config.json"))
	if !strings.Contains(string(data), "SCMP_ACT_ERRNO") || !strings.Contains(string(data), `"epoll_wait"`) || strings.Contains(string(data), `"keyctl"`) {
		t.Errorf("--seccomp-default did not write Docker's profile")
	}
}

func TestFeatures(t *testing.T) {
	r := fixture.NewRuntime(t)
	var f struct {
		OCIVersionMax string `json:"ociVersionMax"`
		Linux         struct {
			Namespaces []string `json:"namespaces"`
			Seccomp    struct {
				Enabled bool `json:"enabled"`
			} `json:"seccomp"`
		} `json:"linux"`
	}
	if err := json.Unmarshal([]byte(r.Must("features")), &f); err != nil {
		t.Fatal(err)
	}
	if f.OCIVersionMax != "1.3.0" || len(f.Linux.Namespaces) < 7 || !f.Linux.Seccomp.Enabled {
		t.Errorf("features: %+v", f)
	}
}

// run forwards the signals it receives to the container's process, as
// runc does; one sent as soon as the program runs is not lost.
func TestRunForwardsSignals(t *testing.T) {
	r := fixture.NewRuntime(t)
	b := fixture.Bundle(t, fixture.Spec("sig", "sh", "-c", "trap 'echo got USR1; exit 3' USR1; echo ready; while true; do sleep 0.05; done"))
	cmd := r.Command("run", "-b", b, "sig")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.Contains(string(buf[:n]), "ready") {
		_ = cmd.Process.Kill()
		t.Fatalf("the container said %q, want ready", buf[:n])
	}
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(out)
	err = cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	if code != 3 || !strings.Contains(string(rest), "got USR1") {
		t.Errorf("after SIGUSR1: output %q, exit %d (%v); want \"got USR1\" and 3", rest, code, err)
	}
	r.AssertClean(t, "sig", b)
}
