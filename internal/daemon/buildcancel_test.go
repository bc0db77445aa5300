package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// buildLeftovers lists what a build must not leave: containers, mounts
// under the daemon's roots, writable snapshots, staging of RUN mounts.
func buildLeftovers(t *testing.T, d *fixture.Daemon) []string {
	t.Helper()
	var left []string
	if out := strings.TrimSpace(d.MustGantry("ps", "-aq")); out != "" {
		left = append(left, "containers: "+out)
	}
	for _, m := range d.Mounts() {
		if m != d.DataRoot { // a test's own tmpfs data root
			left = append(left, "mount: "+m)
		}
	}
	for _, sub := range []string{"snapshots/active", "build/mounts"} {
		ents, _ := os.ReadDir(filepath.Join(d.DataRoot, sub))
		for _, e := range ents {
			left = append(left, sub+": "+e.Name())
		}
	}
	return left
}

// waitStepContainer waits for a build's RUN container to be running.
func waitStepContainer(t *testing.T, d *fixture.Daemon) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.TrimSpace(d.MustGantry("ps", "-q", "--filter", "label=dev.gantry.build-step")) == "" {
		if time.Now().After(deadline) {
			t.Fatal("the build's RUN never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Ctrl-C in the middle of `gantry build`: the CLI cancels, the daemon
// kills and removes the RUN's container, tags nothing, and leaves no
// mount or snapshot; the next build works.
func TestBuildInterrupted(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nRUN --mount=type=cache,target=/c --mount=type=bind,target=/src sleep 60\n"), 0o644)
	cmd := d.GantryCommand("build", "-t", "interrupted:1", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitStepContainer(t, d)
	start := time.Now()
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if err == nil {
		t.Fatal("an interrupted build exited 0")
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("the CLI took %v to stop", time.Since(start))
	}
	// The daemon finishes its cancellation on its own time: wait for it.
	deadline := time.Now().Add(20 * time.Second)
	var left []string
	for {
		left = buildLeftovers(t, d)
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, l := range left {
		t.Errorf("left after Ctrl-C: %s", l)
	}
	if res := d.Gantry("image", "inspect", "interrupted:1"); res.Code == 0 {
		t.Error("an interrupted build tagged its image")
	}
	if pids := processesIn(d.CgroupParent(), "sleep\x0060\x00"); len(pids) > 0 {
		t.Errorf("the RUN's process still runs: pids %v", pids)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nRUN echo after > /after\n"), 0o644)
	d.MustGantry("build", "-t", "interrupted:1", dir)
}

// A full disk during a build: one clear message saying what to do, no
// image, nothing left behind. The data root is a small tmpfs.
func TestBuildDiskFull(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Stop()
	if err := unix.Mount("tmpfs", d.DataRoot, "tmpfs", 0, "size=40m,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if ids := strings.Fields(d.Gantry("ps", "-aq").Stdout); len(ids) > 0 {
			d.Gantry(append([]string{"rm", "-f"}, ids...)...)
		}
		d.Stop()
		_ = unix.Unmount(d.DataRoot, syscall.MNT_DETACH)
	})
	d.Start()
	d.Busybox()
	big := t.TempDir()
	f, _ := os.Create(filepath.Join(big, "big"))
	f.Truncate(0)
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i*7 + i>>8)
	}
	for i := 0; i < 60; i++ {
		f.Write(buf)
	}
	f.Close()
	cases := []struct{ name, dockerfile string }{
		{"RUN", "FROM busybox\nRUN dd if=/dev/zero of=/fill bs=1M count=100\n"},
		{"COPY", "FROM busybox\nCOPY big /big\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.WriteFile(filepath.Join(big, "Dockerfile"), []byte(c.dockerfile), 0o644)
			res := d.Gantry("build", "-t", "full:1", big)
			if res.Code == 0 {
				t.Fatal("a build on a full disk succeeded")
			}
			if !strings.Contains(res.Stderr, "no space left on device: the data root "+d.DataRoot+" is full") || !strings.Contains(res.Stderr, "builder prune") {
				t.Errorf("message: %q", res.Stderr)
			}
			t.Logf("%s", res.Stderr)
			if r := d.Gantry("image", "inspect", "full:1"); r.Code == 0 {
				t.Error("full:1 was tagged")
			}
			for _, l := range buildLeftovers(t, d) {
				t.Errorf("left after a full disk: %s", l)
			}
		})
	}
	// Space again: the same daemon builds.
	os.WriteFile(filepath.Join(big, "Dockerfile"), []byte("FROM busybox\nRUN echo ok > /ok\n"), 0o644)
	d.MustGantry("build", "-t", "full:1", big)
}

// processesIn lists the processes with the command line cmdline (NUL
// separated) whose cgroup path contains parent: this daemon's, not another
// test's or engine's.
func processesIn(parent, cmdline string) []string {
	var pids []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		cl, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || string(cl) != cmdline {
			continue
		}
		if cg, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil && strings.Contains(string(cg), parent+"/") {
			pids = append(pids, filepath.Base(dir))
		}
	}
	return pids
}
