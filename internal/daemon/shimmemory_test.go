package daemon_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// A running container's shim is small: once its container has started, it
// maps its code from the daemon's in-memory copy of the binary and keeps
// only the pages it goes on using. Mapped from the binary on a file system
// with large folios, a shim showed most of the binary in its RSS, over 20 MB.
func TestShimMemory(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("run", "-d", "--name", "small", "busybox", "sh", "-c", "while true; do echo tick; sleep 0.1; done")
	shims := d.ShimProcesses()
	if len(shims) != 1 {
		t.Fatalf("%d shims, want 1", len(shims))
	}
	pid := shims[0]

	// The shim gives back its start-up pages a second after the start,
	// while it copies the container's output to the log.
	var rss int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if rss = rssKB(t, pid); rss < 8<<10 {
			break
		}
	}
	if rss >= 8<<10 {
		t.Errorf("a running shim's RSS is %d kB, want under 8 MB", rss)
	}
	maps, err := os.ReadFile(filepath.Join("/proc", pid, "maps"))
	if err != nil {
		t.Fatal(err)
	}
	codeFromCopy := false
	for _, l := range strings.Split(string(maps), "\n") {
		if f := strings.Fields(l); len(f) >= 6 && f[1] == "r-xp" && strings.HasPrefix(f[5], "/memfd:") {
			codeFromCopy = true
		}
	}
	if !codeFromCopy {
		t.Errorf("the shim's code is not mapped from the daemon's copy:\n%s", maps)
	}
	d.MustDocker("exec", "small", "true")
	if out := d.MustDocker("logs", "--tail", "1", "small"); strings.TrimSpace(out) != "tick" {
		t.Errorf("logs after the release: %q", out)
	}
}

func rssKB(t *testing.T, pid string) int {
	f, err := os.Open(filepath.Join("/proc", pid, "smaps_rollup"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Rss:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	t.Fatal("no Rss in smaps_rollup")
	return 0
}
