package daemon_test

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// waitingProgram prints "ready" and waits; an interrupt makes it say so
// and exit 7.
const waitingProgram = `trap "echo got-int; exit 7" INT; echo ready; while :; do sleep 0.1; done`

// Ctrl-C typed at `run -it` reaches the program in the container (the
// terminal is the container's), the CLI ends with the program's status and
// leaves the user's terminal as it found it, and --rm leaves nothing.
func TestRunInteractiveCtrlC(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	_ = pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 80})
	before, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	cmd := d.GantryCommand("run", "-it", "--rm", "busybox", "sh", "-c", waitingProgram)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	go func() { _, _ = io.Copy(out, ptmx) }()
	waitFor(t, func() bool { return strings.Contains(out.String(), "ready") })
	if _, err := ptmx.Write([]byte{3}); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	code := waitExit(t, cmd, out)
	if code != 7 || !strings.Contains(out.String(), "got-int") {
		t.Fatalf("Ctrl-C in run -it: exit %d, output %q; want the program's trap and exit 7", code, out.String())
	}
	after, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Errorf("the terminal was left changed: lflag %#x iflag %#x oflag %#x, was %#x %#x %#x",
			after.Lflag, after.Iflag, after.Oflag, before.Lflag, before.Iflag, before.Oflag)
	}
	assertNothingLeft(t, d)
}

// Without a terminal, an interrupt sent to the CLI is passed on to the
// container (--sig-proxy, on by default) as docker's does.
func TestRunInterruptIsProxied(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	cmd := d.GantryCommand("run", "-i", "--rm", "busybox", "sh", "-c", waitingProgram)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(out.String(), "ready") })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code := waitExit(t, cmd, out)
	if code != 7 || !strings.Contains(out.String(), "got-int") {
		t.Fatalf("SIGINT to run -i: exit %d, output %q; want the program's trap and exit 7", code, out.String())
	}
	assertNothingLeft(t, d)
}

func waitExit(t *testing.T, cmd *exec.Cmd, out *syncBuffer) int {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%v did not end after the interrupt; output %q", cmd.Args, out.String())
		return -1
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
