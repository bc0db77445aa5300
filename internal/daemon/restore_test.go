package daemon_test

import (
	"bufio"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// kill -9 of the daemon loses nothing: containers run on under their
// shims, a restarted daemon finds them, and an exit that happened while
// it was down is recorded with its code.
func TestLiveRestoreAfterKill(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("run", "-d", "--name", "long", "busybox", "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done")
	d.MustDocker("run", "-d", "--name", "short", "busybox", "sh", "-c", "sleep 1; exit 7")
	d.MustDocker("create", "--name", "idle", "busybox", "true")
	d.MustDocker("run", "-d", "--rm", "--name", "gone", "busybox", "sh", "-c", "sleep 1")
	shims := d.ShimProcesses()
	if len(shims) != 3 {
		t.Fatalf("%d shims running, want 3", len(shims))
	}

	d.Kill()
	time.Sleep(1500 * time.Millisecond) // "short" and "gone" exit while no daemon runs
	if got := d.ShimProcesses(); len(got) != 1 {
		t.Errorf("with the daemon down, %d shims run, want 1 (long's)", len(got))
	}
	d.Start()

	// As Docker: the --rm container that exited meanwhile is removed.
	waitFor(t, func() bool { return !strings.Contains(d.MustDocker("ps", "-a", "--format", "{{.Names}}"), "gone") })

	if st := inspect(d, "long", "{{.State.Status}}"); st != "running" {
		t.Errorf("long after restart: %s", st)
	}
	if st := inspect(d, "short", "{{.State.Status}} {{.State.ExitCode}}"); st != "exited 7" {
		t.Errorf("short after restart: %s, want exited 7", st)
	}
	if st := inspect(d, "idle", "{{.State.Status}}"); st != "created" {
		t.Errorf("idle after restart: %s", st)
	}
	// logs -f follows the running container across the restart.
	cmd := d.DockerCommand("logs", "-f", "--tail", "1", "long")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var lines []string
	for len(lines) < 3 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if len(lines) < 3 || !strings.HasPrefix(lines[2], "tick ") {
		t.Errorf("logs -f after restart: %q", lines)
	}
	if out := d.MustDocker("exec", "long", "echo", "still here"); out != "still here\n" {
		t.Errorf("exec after restart: %q", out)
	}
	// wait and stop work on the container found again.
	waitc := d.DockerCommand("wait", "long")
	waitOut, _ := waitc.StdoutPipe()
	if err := waitc.Start(); err != nil {
		t.Fatal(err)
	}
	d.MustDocker("stop", "-t", "1", "long")
	code, _ := bufio.NewReader(waitOut).ReadString('\n')
	_ = waitc.Wait()
	if strings.TrimSpace(code) != "137" {
		t.Errorf("wait after restart printed %q, want 137", code)
	}
	d.MustDocker("rm", "long", "short", "idle")
	assertNothingLeft(t, d)
}

// A clean stop (SIGTERM) leaves containers running too, and the next
// daemon serves attach to one of them.
func TestRestartKeepsAttach(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("run", "-d", "-i", "--name", "cat", "busybox", "cat")
	d.Stop()
	d.Start()
	cmd := d.DockerCommand("attach", "cat")
	cmd.Stdin = strings.NewReader("through the attach\n")
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(outPipe).ReadString('\n')
	// cat reads on after our input ends (no StdinOnce): leave it running.
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if line != "through the attach\n" {
		t.Errorf("attach after restart read %q", line)
	}
	d.MustDocker("rm", "-f", "cat")
	assertNothingLeft(t, d)
}
