package runtimecli_test

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// A command's heap is backed by huge pages (package hugeheap), unless
// GODEBUG=disablethp=1 says no, as it does for Go's own runtime, or the
// machine has transparent huge pages off (then none may appear either).
func TestRuntimeHeapHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	thp := err == nil && !strings.Contains(string(mode), "[never]")
	for _, tc := range []struct {
		name    string
		godebug string
		want    bool
	}{
		{"default", "", thp},
		{"disablethp", "disablethp=1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fixture.NewRuntime(t)
			b := fixture.Bundle(t, fixture.Spec("hp", "sh", "-c", "echo ready; exec sleep 30"))
			cmd := r.Command("run", "-b", b, "hp")
			cmd.Env = append(os.Environ(), "GODEBUG="+tc.godebug)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				r.Run("kill", "hp", "KILL")
				_ = cmd.Wait()
			}()
			line, _ := bufio.NewReader(out).ReadString('\n')
			if line != "ready\n" {
				t.Fatalf("the container said %q, want ready", line)
			}
			huge := anonHugeKB(t, cmd.Process.Pid)
			if tc.want && huge == 0 {
				t.Errorf("gantry runtime run's heap has no huge pages (AnonHugePages 0 kB in /proc/%d/smaps)", cmd.Process.Pid)
			}
			if !tc.want && huge != 0 {
				t.Errorf("with GODEBUG=%q and transparent huge pages %q, gantry runtime run has %d kB of huge pages, want none", tc.godebug, strings.TrimSpace(string(mode)), huge)
			}
		})
	}
}

func anonHugeKB(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total := 0
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "AnonHugePages:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			total += n
		}
	}
	return total
}
