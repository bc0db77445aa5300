package runtime

import (
	"os"
	"testing"
	"time"
)

// The warming moves change nothing: the process stays in every cgroup it
// was in, and they did happen (a cgroup.procs file was found and written).
func TestKeepMigrationsFastMovesNothing(t *testing.T) {
	before, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	procs := selfProcsFile()
	if procs == "" {
		t.Fatalf("no cgroup.procs found for\n%s", before)
	}
	stop := KeepMigrationsFast()
	time.Sleep(4 * migrationRefresh)
	stop()
	stop() // twice is harmless
	after, _ := os.ReadFile("/proc/self/cgroup")
	if string(after) != string(before) {
		t.Errorf("cgroups changed:\n%s\nto\n%s", before, after)
	}
	// Still writable: the moves did not fail (a failure ends them quietly).
	if err := os.WriteFile(procs, []byte("0"), 0); err != nil {
		t.Errorf("moving into %s: %v", procs, err)
	}
}
