package daemon_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// The docker CLI drives a container through Docker's states.
func TestDockerLifecycle(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()

	out := d.MustDocker("run", "--rm", "busybox", "sh", "-c", "echo hello; echo oops >&2")
	if out != "hello\n" {
		t.Fatalf("run printed %q", out)
	}
	if res := d.Docker("run", "--rm", "busybox", "sh", "-c", "exit 42"); res.Code != 42 {
		t.Fatalf("run exit code %d, want 42 (%s)", res.Code, res.Stderr)
	}
	id := strings.TrimSpace(d.MustDocker("run", "-d", "--name", "web", "-e", "GREETING=hi", "busybox", "sh", "-c", "echo $GREETING; echo $HOSTNAME; sleep 600"))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want a 64-digit ID", id)
	}
	waitFor(t, func() bool { return strings.Contains(d.MustDocker("logs", "web"), id[:12]) })
	if logs := d.MustDocker("logs", "web"); logs != "hi\n"+id[:12]+"\n" {
		t.Errorf("logs = %q", logs)
	}
	if st := inspect(d, "web", "{{.State.Status}} {{.Name}} {{.Config.Hostname}}"); st != "running /web "+id[:12] {
		t.Errorf("inspect = %q", st)
	}
	if out := d.MustDocker("exec", "web", "sh", "-c", "echo in-$HOSTNAME"); out != "in-"+id[:12]+"\n" {
		t.Errorf("exec printed %q", out)
	}
	if res := d.Docker("exec", "web", "sh", "-c", "exit 3"); res.Code != 3 {
		t.Errorf("exec exit code %d, want 3", res.Code)
	}
	if res := d.Docker("exec", "web", "nope"); res.Code != 127 {
		t.Errorf("exec of a missing program: exit %d, want 127 (%s)", res.Code, res.Stderr)
	}
	if out := d.MustDocker("exec", "-i", "web", "cat"); out != "" {
		t.Errorf("exec -i with no input printed %q", out)
	}
	ps := d.MustDocker("ps")
	if !strings.Contains(ps, "web") || !strings.Contains(ps, "Up ") {
		t.Errorf("ps:\n%s", ps)
	}
	d.MustDocker("pause", "web")
	if st := inspect(d, "web", "{{.State.Status}}"); st != "paused" {
		t.Errorf("after pause: %s", st)
	}
	d.MustDocker("unpause", "web")
	top := d.MustDocker("top", "web")
	if !strings.Contains(top, "sleep 600") {
		t.Errorf("top:\n%s", top)
	}
	d.MustDocker("rename", "web", "site")
	if res := d.Docker("rm", "site"); res.Code == 0 || !strings.Contains(res.Stderr, "container is running") {
		t.Errorf("rm of a running container: exit %d, %s", res.Code, res.Stderr)
	}
	d.MustDocker("stop", "-t", "1", "site")
	if st := inspect(d, "site", "{{.State.Status}} {{.State.ExitCode}}"); st != "exited 137" {
		t.Errorf("after stop: %s", st)
	}
	if out := strings.TrimSpace(d.MustDocker("wait", "site")); out != "137" {
		t.Errorf("wait printed %q", out)
	}
	d.MustDocker("start", "site")
	if st := inspect(d, "site", "{{.State.Status}}"); st != "running" {
		t.Errorf("after start: %s", st)
	}
	d.MustDocker("rm", "-f", "site")
	if res := d.Docker("inspect", "site"); res.Code == 0 {
		t.Errorf("inspect after rm succeeded")
	}
	assertNothingLeft(t, d)
}

// docker run -it through a pseudo-terminal: the TTY reaches the
// container and the exit code comes back.
func TestDockerRunTTY(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	out, code := runInPTY(t, d.DockerCommand("run", "-it", "--rm", "busybox", "sh", "-c", "tty; stty size; exit 5"), "")
	if code != 5 || !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "24 80") {
		t.Fatalf("exit %d, output %q", code, out)
	}
	out, code = runInPTY(t, d.DockerCommand("run", "-it", "--rm", "busybox", "sh"), "echo in-$((40+2))\rexit 9\r")
	if code != 9 || !strings.Contains(out, "in-42") {
		t.Fatalf("interactive: exit %d, output %q", code, out)
	}
	assertNothingLeft(t, d)
}

func inspect(d *fixture.Daemon, name, format string) string {
	return strings.TrimSpace(d.MustDocker("inspect", "-f", format, name))
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertNothingLeft checks that no container, shim, mount or bundle is
// left once every container is removed.
func assertNothingLeft(t *testing.T, d *fixture.Daemon) {
	t.Helper()
	if ids := strings.TrimSpace(d.MustDocker("ps", "-aq")); ids != "" {
		t.Errorf("containers left: %s", ids)
	}
	waitFor(t, func() bool { return len(d.ShimProcesses()) == 0 })
	// A removal takes the root filesystem and the files down in the
	// background, within moments.
	dirs := []string{d.ExecRoot + "/containers", d.DataRoot + "/containers", d.DataRoot + "/snapshots/active", d.ExecRoot + "/runtime"}
	settled := func() bool {
		for _, dir := range dirs {
			if len(entries(dir)) > 0 {
				return false
			}
		}
		return len(d.Mounts()) == 0
	}
	for deadline := time.Now().Add(10 * time.Second); !settled() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if m := d.Mounts(); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
	for _, dir := range dirs {
		if left := entries(dir); len(left) > 0 {
			t.Errorf("%s still holds %v", dir, left)
		}
	}
	if left := cgroupsLeft(d.CgroupParent()); len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
}
