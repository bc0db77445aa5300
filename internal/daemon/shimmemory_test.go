package daemon_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// shimBudget is the budget for a running container's shim.
const shimBudget = 4 << 10 // kB

// A running container's shim is small. Once its container runs, it
// executes itself again from the daemon's in-memory copy of the binary
// and hands itself over (respawn): the container, its output and the
// daemon's connections go on, and the new process holds only what
// supervising takes.
func TestShimMemory(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	// Numbered lines, each started by a piece without a newline that waits
	// a moment: a respawn that loses or splits a line shows in the log.
	d.MustDocker("run", "-d", "--name", "small", "busybox", "sh", "-c",
		"i=0; while true; do i=$((i+1)); printf 'part%d-' $i; sleep 0.05; echo line $i; done")
	pid := onlyShim(t, d)
	// A wait that began before the respawn is answered after it.
	waitc := d.DockerCommand("wait", "small")
	waitOut, err := waitc.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := waitc.Start(); err != nil {
		t.Fatal(err)
	}

	// The respawn comes a second after the start.
	rss := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if rss = rssKB(t, pid); rss <= shimBudget {
			break
		}
	}
	if rss > shimBudget {
		t.Fatalf("a running shim's RSS is %d kB, over the %d kB budget", rss, shimBudget)
	}
	// And stays there while the output goes on through the new process.
	time.Sleep(time.Second)
	if rss := rssKB(t, pid); rss > shimBudget {
		t.Errorf("a second later, the shim's RSS is %d kB, over the %d kB budget", rss, shimBudget)
	}

	if out := d.MustDocker("exec", "small", "echo", "exec ok"); out != "exec ok\n" {
		t.Errorf("exec after the respawn: %q", out)
	}
	d.MustDocker("stop", "-t", "1", "small")
	code, _ := bufio.NewReader(waitOut).ReadString('\n')
	_ = waitc.Wait()
	if strings.TrimSpace(code) != "137" {
		t.Errorf("wait begun before the respawn printed %q, want 137", code)
	}
	if st := inspect(d, "small", "{{.State.Status}} {{.State.ExitCode}}"); st != "exited 137" {
		t.Errorf("after stop: %s", st)
	}
	// Every line once, whole and in order, across the respawn.
	lines := strings.Split(strings.TrimSuffix(d.MustDocker("logs", "small"), "\n"), "\n")
	if len(lines) < 30 {
		t.Fatalf("%d lines logged, want over 30 (the respawn comes a second in)", len(lines))
	}
	for i, l := range lines[:len(lines)-1] {
		if want := fmt.Sprintf("part%d-line %d", i+1, i+1); l != want {
			t.Fatalf("log line %d is %q, want %q", i+1, l, want)
		}
	}
}

// A client attached to a container is not cut off: its shim respawns only
// once nothing is under way.
func TestShimRespawnKeepsAttachedClient(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	// docker run attaches before the container starts.
	cmd := d.DockerCommand("run", "-i", "--name", "echo", "busybox", "sh", "-c", "while read l; do echo got $l; done")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	r := bufio.NewReader(out)
	pid := ""
	// Past the second at which a quiet shim respawns.
	for i := range 15 {
		if _, err := fmt.Fprintf(in, "%d\n", i); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadString('\n')
		if err != nil || line != fmt.Sprintf("got %d\n", i) {
			t.Fatalf("attached client, line %d: %q, %v", i, line, err)
		}
		if pid == "" {
			pid = onlyShim(t, d)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := d.ShimProcesses(); len(got) != 1 || got[0] != pid {
		t.Errorf("shims after the attached session: %v, want the same one (%s)", got, pid)
	}
	in.Close()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	d.MustDocker("rm", "-f", "echo")
}

// onlyShim is the pid of the daemon's one running shim.
func onlyShim(t *testing.T, d *fixture.Daemon) string {
	t.Helper()
	shims := d.ShimProcesses()
	if len(shims) != 1 {
		t.Fatalf("%d shims, want 1", len(shims))
	}
	return shims[0]
}

func rssKB(t *testing.T, pid string) int {
	f, err := os.Open(filepath.Join("/proc", pid, "smaps_rollup"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, _ := io.ReadAll(f)
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "Rss:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	t.Fatal("no Rss in smaps_rollup")
	return 0
}

// A daemon that restarts asks every shim again (wait): the code that takes
// does not stay in the shim's RSS.
func TestShimMemoryAfterDaemonRestart(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("run", "-d", "--name", "idle", "busybox", "sleep", "600")
	pid := onlyShim(t, d)
	under := func(what string) {
		t.Helper()
		rss := 0
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if rss = rssKB(t, pid); rss <= shimBudget {
				return
			}
		}
		t.Fatalf("%s: the shim's RSS is %d kB, over the %d kB budget", what, rss, shimBudget)
	}
	under("settled")
	d.Kill()
	d.Start()
	if st := inspect(d, "idle", "{{.State.Status}}"); st != "running" {
		t.Fatalf("after the restart: %s", st)
	}
	time.Sleep(500 * time.Millisecond)
	under("after the daemon's restart")
	d.MustDocker("rm", "-f", "idle")
}
