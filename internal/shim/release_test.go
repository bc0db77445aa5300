package shim

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/runc/libcontainer/exeseal"
)

// releaseCode swaps the test binary's own code for the same bytes mapped
// from a memfd while other goroutines run in it; they, and everything
// after, go on as before.
func TestReleaseCodeRemapsInPlace(t *testing.T) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	st, err := src.Stat()
	if err != nil {
		t.Fatal(err)
	}
	code, err := exeseal.CloneBinary(src, st.Size(), "shim-test", t.TempDir())
	src.Close()
	if err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					_, _ = json.Marshal(map[string]any{"a": []int{1, 2, 3}})
				}
			}
		}()
	}
	releaseCode(code)
	close(stop)
	wg.Wait()

	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	fromCopy := false
	for _, l := range strings.Split(string(maps), "\n") {
		if f := strings.Fields(l); len(f) >= 6 && f[1] == "r-xp" && strings.HasPrefix(f[5], "/memfd:") && strings.Contains(f[5], "shim-test") {
			fromCopy = true
		}
	}
	if !fromCopy {
		t.Fatalf("no code mapped from the copy:\n%s", maps)
	}
	// Registered with a userfaultfd for write protection (VmFlags "uw"),
	// which the kernel maps a page at a time, where the kernel offers it.
	offered := pageByPage() >= 0
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	inCopy, registered := false, false
	for _, l := range strings.Split(string(smaps), "\n") {
		if f := strings.Fields(l); len(f) >= 6 && strings.Contains(f[0], "-") {
			inCopy = f[1] == "r-xp" && strings.HasPrefix(f[5], "/memfd:") && strings.Contains(f[5], "shim-test")
		}
		if inCopy && strings.HasPrefix(l, "VmFlags:") && strings.Contains(l, " uw") {
			registered = true
		}
	}
	if registered != offered {
		t.Errorf("code from the copy registered for write protection: %v; the kernel offers userfaultfd: %v", registered, offered)
	}
	// Code not run before, now read from the copy.
	if !regexp.MustCompile(`^sha256:[a-f0-9]{4}$`).MatchString("sha256:abcd") {
		t.Error("regexp after the remap")
	}
}

// A copy that is not this binary is refused: its bytes at the same
// addresses would crash the process.
func TestReleaseCodeRefusesAnotherBinary(t *testing.T) {
	other, err := os.CreateTemp(t.TempDir(), "other")
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Truncate(2 << 20); err != nil {
		t.Fatal(err)
	}
	if sameFile(other) {
		t.Fatal("a file of zeros taken for this binary")
	}
	releaseCode(other) // must not remap: the test would crash
	maps, _ := os.ReadFile("/proc/self/maps")
	if strings.Contains(string(maps), other.Name()) {
		t.Errorf("mapped from the other file:\n%s", maps)
	}
}
