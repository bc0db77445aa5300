package daemon_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// runInPTY runs cmd on a new pseudo-terminal, types input (slowly, as a
// person would, after the program is up) and returns what it printed and
// its exit code.
func runInPTY(t *testing.T, cmd *exec.Cmd, input string) (string, int) {
	t.Helper()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(&out, ptmx)
		close(done)
	}()
	if input != "" {
		time.Sleep(500 * time.Millisecond)
		for _, line := range strings.SplitAfter(input, "\r") {
			_, _ = ptmx.Write([]byte(line))
			time.Sleep(200 * time.Millisecond)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err = <-errc:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%v did not finish; output so far %q", cmd.Args, out.String())
	}
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

func entries(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// cgroupsLeft lists container cgroups left under the daemon's parent.
func cgroupsLeft(parent string) []string {
	var left []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*" + parent)
	if st, err := os.Stat("/sys/fs/cgroup" + parent); err == nil && st.IsDir() {
		roots = append(roots, "/sys/fs/cgroup"+parent)
	}
	for _, root := range roots {
		matches, _ := filepath.Glob(filepath.Join(root, "*"))
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && st.IsDir() {
				left = append(left, m)
			}
		}
	}
	return left
}
