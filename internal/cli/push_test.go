package cli_test

import (
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// A pulled image pushed to another registry keeps its ID: gantry rebuilds
// the original layer tars from the files and their tar-split metadata, so
// the config's diff IDs stay true. Pulling it back verifies every layer.
func TestImagePushPulledImageElsewhere(t *testing.T) {
	g := fixture.NewDaemon(t)
	src := imgMemRegistry(t, nil)
	dst := fixture.DistributionRegistry(t)
	img := imgImage(t, nil, imgRandomLayer(t, 64<<10), imgRandomLayer(t, 32<<10))
	imgSeed(t, src, "orig/app:1", img)

	g.MustGantry("pull", "-q", src+"/orig/app:1")
	g.MustGantry("tag", src+"/orig/app:1", dst+"/copy/app:1")
	out := g.MustGantry("push", dst+"/copy/app:1")
	if !strings.Contains(out, "Pushed") || !strings.Contains(out, "1: digest: sha256:") {
		t.Fatalf("push output:\n%s", out)
	}

	// A fresh data root pulls it back and checks every layer.
	g2 := fixture.NewDaemon(t)
	g2.MustGantry("pull", "-q", dst+"/copy/app:1")
	got := imgInspectOne(t, g2, dst+"/copy/app:1")
	if len(got.RootFS.Layers) != 2 {
		t.Errorf("pulled back %d layers, want 2", len(got.RootFS.Layers))
	}
	if want, _, _ := imgIDs(t, img); got.ID != want {
		t.Errorf("the image changed its ID on the way: %s, was %s", got.ID, want)
	}
	// The second push of the same layers does no work.
	g.MustGantry("tag", src+"/orig/app:1", dst+"/copy/app:2")
	if out := g.MustGantry("push", dst+"/copy/app:2"); strings.Count(out, "Layer already exists") != 2 {
		t.Errorf("second push did not reuse the layers:\n%s", out)
	}
}
