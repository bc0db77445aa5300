package runtimecli_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// resConsoleSocket listens on a unix socket for --console-socket.
func resConsoleSocket(t *testing.T) (string, *net.UnixListener) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return path, ln
}

// resReceiveMaster accepts the runtime's connection and returns the pty
// master it sends with SCM_RIGHTS, non-blocking so reads take deadlines.
func resReceiveMaster(t *testing.T, ln *net.UnixListener) *os.File {
	t.Helper()
	if err := ln.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	conn, err := ln.AcceptUnix()
	if err != nil {
		t.Fatalf("no connection on the console socket: %v", err)
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(name, oob)
	if err != nil {
		t.Fatalf("read from the console socket: %v", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		t.Fatalf("console socket control message: %v", err)
	}
	var fds []int
	for i := range msgs {
		rights, err := unix.ParseUnixRights(&msgs[i])
		if err == nil {
			fds = append(fds, rights...)
		}
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		t.Fatalf("console socket: got %d file descriptors (message %q), want the pty master", len(fds), name[:n])
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	master := os.NewFile(uintptr(fds[0]), string(name[:n]))
	t.Cleanup(func() { master.Close() })
	if _, err := unix.IoctlGetTermios(fds[0], unix.TCGETS); err != nil {
		t.Fatalf("what came through the console socket (%q) is not a terminal: %v", name[:n], err)
	}
	return master
}

// resReadTerminal reads the master until every slave is closed (EIO),
// and returns what the container wrote, with the terminal's \r\n as \n.
func resReadTerminal(t *testing.T, master *os.File, timeout time.Duration) string {
	t.Helper()
	if err := master.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := master.Read(buf)
		out.Write(buf[:n])
		if err == nil {
			continue
		}
		if errors.Is(err, syscall.EIO) || errors.Is(err, io.EOF) {
			break
		}
		t.Fatalf("read the terminal: %v; read so far: %q", err, out.String())
	}
	return strings.ReplaceAll(out.String(), "\r\n", "\n")
}

// TestConsoleSocket: create with --console-socket hands the pty master of a
// terminal process to the socket; after start the process runs on
// /dev/pts/0 with the spec's console size.
func TestConsoleSocket(t *testing.T) {
	r := fixture.NewRuntime(t)
	id := resID("console")
	spec := fixture.Spec(id, "sh", "-c", "tty; echo hello-tty; stty size")
	spec.Process.Terminal = true
	spec.Process.ConsoleSize = &specs.Box{Height: 33, Width: 101}
	bundle := fixture.Bundle(t, spec)
	sock, ln := resConsoleSocket(t)
	t.Cleanup(func() { r.Run("delete", "--force", id) })

	resMustDetached(t, r, "create", "--bundle", bundle, "--console-socket", sock, id)
	master := resReceiveMaster(t, ln)
	r.Must("start", id)
	out := resReadTerminal(t, master, 10*time.Second)

	want := "/dev/pts/0\nhello-tty\n33 101\n"
	if out != want {
		t.Errorf("the terminal showed %q, want %q", out, want)
	}
	resWaitFor(t, 10*time.Second, "the container to stop", func() bool {
		return resState(t, r, id).Status == "stopped"
	})
	r.Must("delete", id)
	r.AssertClean(t, id, bundle)
}

// TestConsoleExecTTY: exec -t -d --console-socket gives a process exec'd into
// a running container its own terminal.
func TestConsoleExecTTY(t *testing.T) {
	r := fixture.NewRuntime(t)
	id := resID("console-exec")
	resStartContainer(t, r, id, fixture.Spec(id, "sleep", "600"))
	sock, ln := resConsoleSocket(t)

	resMustDetached(t, r, "exec", "-t", "-d", "--console-socket", sock, id, "sh", "-c", "tty; echo exec-tty")
	master := resReceiveMaster(t, ln)
	out := resReadTerminal(t, master, 10*time.Second)

	if ok, _ := regexp.MatchString(`^/dev/pts/[0-9]+\nexec-tty\n$`, out); !ok {
		t.Errorf("the exec'd process's terminal showed %q, want its tty (/dev/pts/N) and exec-tty", out)
	}
	if got := resState(t, r, id).Status; got != "running" {
		t.Errorf("after the exec the container is %q, want running", got)
	}
}

// TestConsoleSocketMissing: creating a terminal process without
// --console-socket fails with one clear line and leaves nothing behind.
func TestConsoleSocketMissing(t *testing.T) {
	r := fixture.NewRuntime(t)
	id := resID("console-missing")
	spec := fixture.Spec(id, "sh", "-c", "tty")
	spec.Process.Terminal = true
	bundle := fixture.Bundle(t, spec)

	res := resDetached(t, r, "create", "--bundle", bundle, id)
	if res.Code == 0 {
		r.Run("delete", "--force", id)
		t.Fatalf("create of a terminal process without --console-socket succeeded")
	}
	msg := strings.TrimSpace(res.Stderr)
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "--console-socket") {
		t.Errorf("create failed (exit %d) with %q; want one line that names --console-socket", res.Code, res.Stderr)
	}
	if res.Stdout != "" {
		t.Errorf("create printed %q on stdout", res.Stdout)
	}
	if st := r.Run("state", id); st.Code == 0 {
		t.Errorf("state of the failed container succeeded: %s", st.Stdout)
	}
	r.AssertClean(t, id, bundle)
}
