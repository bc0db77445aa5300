package cli_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// Ctrl-C in the middle of `gantry pull`: the CLI stops with one line, the
// daemon stops the pull (the registry stops sending), no image is listed,
// what arrived stays as a resumable ingest, and the next pull resumes it
// with Range requests and completes.
func TestImagePullCtrlC(t *testing.T) {
	var sent atomic.Int64
	var slow atomic.Bool
	slow.Store(true)
	var mu sync.Mutex
	var ranges []string
	slowBlobs := imgSlowBlobs(64<<10, 10*time.Millisecond, &sent, &slow)
	host := imgMemRegistry(t, func(next http.Handler) http.Handler {
		inner := slowBlobs(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if imgBlobGet(r) != "" {
				mu.Lock()
				ranges = append(ranges, r.Header.Get("Range"))
				mu.Unlock()
			}
			inner.ServeHTTP(w, r)
		})
	})
	img := imgImage(t, nil, imgRandomLayer(t, 8<<20), imgRandomLayer(t, 8<<20))
	imgSeed(t, host, "ctrlc/img:1", img)
	id, _, _ := imgIDs(t, img)
	ref := host + "/ctrlc/img:1"

	g := fixture.NewDaemon(t)
	cmd := g.GantryCommand("pull", ref)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for sent.Load() < 4<<20 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if sent.Load() < 4<<20 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the pull did not get going in 20s:\n%s%s", stdout.String(), stderr.String())
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if err == nil {
		t.Fatalf("the interrupted pull exited 0:\n%s", stdout.String())
	}
	msg := strings.TrimRight(stderr.String(), "\n")
	t.Logf("interrupted pull: %v: %s", err, msg)
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "gantry: ") || !strings.Contains(strings.ToLower(msg), "interrupt") {
		t.Errorf("interrupted pull: want one line saying it was interrupted, got:\n%s", stderr.String())
	}

	// The daemon stops pulling: the registry soon sends nothing more.
	time.Sleep(500 * time.Millisecond)
	before := sent.Load()
	time.Sleep(time.Second)
	if after := sent.Load(); after != before {
		t.Errorf("the registry still sends after the pull was interrupted: %d then %d bytes", before, after)
	}
	if before >= 2*(8<<20) {
		t.Fatalf("the whole image arrived before the interrupt (%d bytes); the test proves nothing", before)
	}
	if l := imgLines(g.MustGantry("images", "-q")); len(l) != 0 {
		t.Errorf("images lists the interrupted pull's image: %q", l)
	}
	if left := imgIngests(t, g); len(left) == 0 {
		t.Errorf("no ingest kept for the next pull to resume")
	}
	imgCheckClean(t, g)

	slow.Store(false)
	mu.Lock()
	ranges = nil
	mu.Unlock()
	out := g.MustGantry("pull", ref)
	if !strings.Contains(out, "Status: Downloaded newer image for "+ref) {
		t.Errorf("second pull:\n%s", out)
	}
	if got := imgInspectOne(t, g, ref).ID; got != id {
		t.Errorf("pulled ID %s, want %s", got, id)
	}
	mu.Lock()
	resumed := false
	for _, r := range ranges {
		var start int64
		if _, err := fmt.Sscanf(r, "bytes=%d-", &start); err == nil && start > 0 {
			resumed = true
		}
	}
	mu.Unlock()
	if !resumed {
		t.Errorf("the second pull did not resume: Range headers of its blob GETs: %q", ranges)
	}
	if left := imgIngests(t, g); len(left) != 0 {
		t.Errorf("content/ingest after the completed pull: %q", left)
	}
	if left := imgTempFiles(t, g); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	imgCheckClean(t, g)
}

// A pull that fills the disk fails with one line saying the disk is full,
// where, and what to do; nothing half-made is listed or left behind; once
// there is room the same pull completes.
func TestImagePullDiskFull(t *testing.T) {
	host := imgMemRegistry(t, nil)
	// Random bytes do not compress: 3 × 12 MB needs about 72 MB (compressed
	// while it downloads, unpacked), far more than the 24 MB the data root has.
	img := imgImage(t, nil, imgRandomLayer(t, 12<<20), imgRandomLayer(t, 12<<20), imgRandomLayer(t, 12<<20))
	imgSeed(t, host, "full/img:1", img)
	id, _, _ := imgIDs(t, img)
	ref := host + "/full/img:1"

	g := fixture.NewDaemon(t)
	g.Stop()
	if err := unix.Mount("tmpfs", g.DataRoot, "tmpfs", 0, "size=24m,mode=0711"); err != nil {
		t.Fatalf("mounting a small tmpfs as the data root: %v", err)
	}
	t.Cleanup(func() {
		g.Stop()
		if err := unix.Unmount(g.DataRoot, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting the data root: %v", err)
		}
	})
	g.Start()

	res := g.Gantry("pull", ref)
	imgFails(t, "pull onto a full disk", res, "no space left on device")
	if !strings.Contains(res.Stderr, g.DataRoot) {
		t.Errorf("the error does not say which disk is full (%s): %s", g.DataRoot, res.Stderr)
	}
	if !strings.Contains(res.Stderr, "free") {
		t.Errorf("the error does not say what to do: %s", res.Stderr)
	}
	if l := imgLines(g.MustGantry("images", "-qa")); len(l) != 0 {
		t.Errorf("images after the failed pull: %q", l)
	}
	if left := imgLayerDirs(t, g); len(left) != 0 {
		// A whole layer unpacked before the disk filled may stay: the next
		// pull uses it. It must then be complete, which system check checks.
		t.Logf("layers kept for the next pull: %q", left)
	}
	if left := imgTempFiles(t, g); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	imgCheckClean(t, g)

	if err := unix.Mount("tmpfs", g.DataRoot, "tmpfs", unix.MS_REMOUNT, "size=256m"); err != nil {
		t.Fatalf("growing the data root: %v", err)
	}
	out := g.MustGantry("pull", ref)
	if !strings.Contains(out, "Status: Downloaded newer image for "+ref) {
		t.Errorf("pull once there is room:\n%s", out)
	}
	if got := imgInspectOne(t, g, ref).ID; got != id {
		t.Errorf("pulled ID %s, want %s", got, id)
	}
	imgCheckClean(t, g)
}
