package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// A daemon killed in the middle of a build leaves no tagged image, and
// the next daemon clears the step's container, mounts and snapshots; the
// next build works and uses what the first one finished.
func TestBuildKilledDaemon(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nCOPY a /a\nARG S=60\nRUN sleep $S\n"), 0o644)
	cmd := d.GantryCommand("build", "-t", "killed:1", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := d.MustGantry("ps", "-q", "--filter", "label=dev.gantry.build-step")
		if strings.TrimSpace(out) != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the RUN step's container never ran")
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.Kill()
	if err := cmd.Wait(); err == nil {
		t.Error("the build succeeded although its daemon was killed")
	}
	d.Start()
	if res := d.Gantry("image", "inspect", "killed:1"); res.Code == 0 {
		t.Error("a build killed half-way tagged its image")
	}
	if out := strings.TrimSpace(d.MustGantry("ps", "-aq")); out != "" {
		t.Errorf("the step's container is still there: %s", out)
	}
	out := d.MustGantry("build", "-t", "killed:1", "--build-arg", "S=0", dir)
	if !strings.Contains(out, "Successfully tagged killed:1") {
		t.Fatalf("the build after the restart:\n%s", out)
	}
	if !strings.Contains(out, "COPY a /a\n ---> CACHED") {
		t.Errorf("the COPY the first build finished was not cached:\n%s", out)
	}
	for _, m := range d.Mounts() {
		if !strings.Contains(m, "/containers/") {
			t.Errorf("mount left: %s", m)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(d.DataRoot, "snapshots", "active"))
	for _, e := range ents {
		t.Errorf("writable snapshot left: %s", e.Name())
	}
}
