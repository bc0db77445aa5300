package cli_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// save writes Docker's archive (an OCI layout plus manifest.json): gantry
// loads it back as the same image, and skopeo (and docker, when a daemon
// runs here) read it.
func TestImageSaveLoad(t *testing.T) {
	g := fixture.NewDaemon(t)
	id := imgBusybox(t, g)
	g.MustGantry("tag", "busybox", "mine:2")
	file := filepath.Join(t.TempDir(), "images.tar")
	g.MustGantry("save", "-o", file, "busybox", "mine:2")

	g2 := fixture.NewDaemon(t)
	out := g2.MustGantry("load", "-i", file)
	if !strings.Contains(out, "Loaded image: busybox:latest") || !strings.Contains(out, "Loaded image: mine:2") {
		t.Fatalf("load output:\n%s", out)
	}
	if got := imgInspectOne(t, g2, "busybox").ID; got != id {
		t.Errorf("loaded image ID %s, saved %s", got, id)
	}
	if out := imgSkopeo(t, "inspect", "docker-archive:"+file+":busybox:latest"); !strings.Contains(out, `"Layers"`) {
		t.Errorf("skopeo cannot read the archive as docker-archive:\n%s", out)
	}
	if out := imgSkopeo(t, "inspect", "oci-archive:"+file+":latest"); !strings.Contains(out, `"Layers"`) {
		t.Errorf("skopeo cannot read the archive as an OCI layout:\n%s", out)
	}
	// skopeo's own docker-archive loads into gantry
	other := filepath.Join(t.TempDir(), "skopeo.tar")
	imgSkopeo(t, "copy", "docker-archive:"+file+":busybox:latest", "docker-archive:"+other+":from/skopeo:1")
	if out := g2.MustGantry("load", "-i", other); !strings.Contains(out, "Loaded image: from/skopeo:1") {
		t.Errorf("load of skopeo's archive:\n%s", out)
	}
	if exec.Command("docker", "info").Run() == nil {
		if out, err := exec.Command("docker", "load", "-i", file).CombinedOutput(); err != nil {
			t.Errorf("docker load: %v\n%s", err, out)
		}
	}
	// a broken archive is refused in one line and leaves nothing
	res := g2.Gantry("load", "-i", "/etc/hostname")
	if res.Code == 0 || !strings.HasPrefix(res.Stderr, "gantry: ") || strings.Count(strings.TrimSpace(res.Stderr), "\n") != 0 {
		t.Errorf("load of a non-archive: exit %d %q", res.Code, res.Stderr)
	}
}
