package runtime

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Moving a process into a cgroup (a container's init joining its cgroups,
// an exec joining the container's) takes the kernel's global cgroup
// threadgroup lock for writing. When no move happened in the last ten or
// so milliseconds, taking it first waits for an RCU grace period: 8 to 16
// ms here, on cgroup v1 and v2 alike (unless mounted with favordynmods),
// and all of it on a container start's critical path. A move made less
// than a grace period after another skips the wait.
//
// KeepMigrationsFast therefore moves this process into the cgroup it is
// already in (which changes nothing) at once and then every few
// milliseconds, on a goroutine of its own, until stop is called: the
// first move pays the wait while the start does other work, and the
// container's own moves find the lock ready.
func KeepMigrationsFast() (stop func()) {
	procs := selfProcsFile()
	if procs == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		pid := []byte(strconv.Itoa(os.Getpid()))
		// A bound, should stop never come.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if os.WriteFile(procs, pid, 0) != nil {
				return
			}
			select {
			case <-done:
				return
			case <-time.After(migrationRefresh):
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

// migrationRefresh is well inside the kernel's window (a grace period,
// about 10 ms measured).
const migrationRefresh = 3 * time.Millisecond

var (
	selfProcsOnce sync.Once
	selfProcs     string
)

// selfProcsFile is the cgroup.procs file of a cgroup this process is in,
// on cgroup v2's hierarchy or else on a v1 controller's; "" if none is
// found.
func selfProcsFile() string {
	selfProcsOnce.Do(func() {
		data, err := os.ReadFile("/proc/self/cgroup")
		if err != nil {
			return
		}
		var candidates []string
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			// hierarchy-ID:controllers:path
			parts := strings.SplitN(sc.Text(), ":", 3)
			if len(parts) != 3 {
				continue
			}
			ctrl, path := parts[1], parts[2]
			switch {
			case ctrl == "":
				candidates = append(candidates, filepath.Join("/sys/fs/cgroup", path), filepath.Join("/sys/fs/cgroup/unified", path))
			case !strings.HasPrefix(ctrl, "name="):
				candidates = append(candidates, filepath.Join("/sys/fs/cgroup", ctrl, path))
			}
		}
		for _, dir := range candidates {
			if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err == nil {
				selfProcs = filepath.Join(dir, "cgroup.procs")
				return
			}
		}
	})
	return selfProcs
}
