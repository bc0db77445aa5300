package image

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Rebuilding a pulled layer's tar reads its files by their tar names; a
// symlink in the layer must not lead those reads to the host's files.
func TestInRootGetterStaysInTheLayer(t *testing.T) {
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "secret"), []byte("host secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	layer := t.TempDir()
	os.Mkdir(filepath.Join(layer, "etc"), 0o755)
	os.WriteFile(filepath.Join(layer, "etc", "secret"), []byte("layer file"), 0o644)
	os.Symlink(host, filepath.Join(layer, "abs"))                        // absolute, to the host
	os.Symlink("../../../../../../.."+host, filepath.Join(layer, "rel")) // climbing
	os.Symlink(filepath.Join(host, "secret"), filepath.Join(layer, "direct"))
	root, err := os.Open(layer)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	g := inRootGetter{root}
	for _, name := range []string{"abs/secret", "rel/secret", "direct", "../secret"} {
		rc, err := g.Get(name)
		if err != nil {
			continue // refused: fine
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if string(data) == "host secret" {
			t.Errorf("Get(%q) read the host's file", name)
		}
	}
	rc, err := g.Get("etc/secret")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if string(data) != "layer file" {
		t.Errorf("Get(etc/secret) = %q", data)
	}
}
