package volume

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// makeRoot is a small root filesystem whose /data holds symlinks that
// lead out of it, and whose /link is a symlink to its /etc.
func makeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"data/sub", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{"data/a": "a\n", "data/sub/b": "b\n", "etc/marker": "image\n", "file": "x"}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"data/abs": "/etc", "data/rel": "../../../../../../../etc", "data/sub/passwd": "/etc/passwd",
		"link": "/etc", "uplink": "../../../../../../../../etc",
	}
	for p, target := range links {
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCopyUpKeepsSymlinksAsLinks(t *testing.T) {
	root := makeRoot(t)
	vol := t.TempDir()
	copied, err := CopyUp(root, "/data", vol)
	if err != nil || !copied {
		t.Fatalf("copy: %v %v", copied, err)
	}
	for p, target := range map[string]string{"abs": "/etc", "rel": "../../../../../../../etc", "sub/passwd": "/etc/passwd"} {
		got, err := os.Readlink(filepath.Join(vol, p))
		if err != nil || got != target {
			t.Errorf("%s: %q %v, want a link to %q", p, got, err, target)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(vol, "sub", "b")); string(b) != "b\n" {
		t.Errorf("sub/b: %q", b)
	}
	// Nothing of the host's /etc came in through the links.
	ents, _ := os.ReadDir(vol)
	if len(ents) != 4 {
		t.Errorf("volume holds %d entries, want 4 (a, abs, rel, sub)", len(ents))
	}
}

func TestCopyUpResolvesInsideTheRoot(t *testing.T) {
	root := makeRoot(t)
	for _, dest := range []string{"/link", "/uplink", "/data/abs", "/data/rel", "/../../etc"} {
		vol := t.TempDir()
		if _, err := CopyUp(root, dest, vol); err != nil {
			t.Fatalf("%s: %v", dest, err)
		}
		b, err := os.ReadFile(filepath.Join(vol, "marker"))
		if err != nil || string(b) != "image\n" {
			t.Errorf("%s: the image's /etc was not the source: %q %v", dest, b, err)
		}
		if ents, _ := os.ReadDir(vol); len(ents) != 1 {
			t.Errorf("%s: %d entries, want only the image's marker", dest, len(ents))
		}
	}
}

func TestCopyUpLeavesAVolumeWithContent(t *testing.T) {
	root := makeRoot(t)
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "mine"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if copied, err := CopyUp(root, "/data", vol); err != nil || copied {
		t.Errorf("copy into a volume with content: %v %v", copied, err)
	}
	if _, err := os.Stat(filepath.Join(vol, "a")); err == nil {
		t.Error("copied over content")
	}
	if copied, err := CopyUp(root, "/nothing/here", t.TempDir()); err != nil || copied {
		t.Errorf("missing path: %v %v", copied, err)
	}
	if _, err := CopyUp(root, "/file", t.TempDir()); !errors.Is(err, ErrNotDir) {
		t.Errorf("over a file: %v", err)
	}
}

// A copy cut short by a crash is made again; one that was done is moved
// into place; the staging directories never stay.
func TestCopyUpAfterACrash(t *testing.T) {
	root := makeRoot(t)
	partial := t.TempDir()
	if err := os.MkdirAll(filepath.Join(partial, stagePartial, "half"), 0o755); err != nil {
		t.Fatal(err)
	}
	if copied, err := CopyUp(root, "/data", partial); err != nil || !copied {
		t.Fatalf("after a partial copy: %v %v", copied, err)
	}
	ents, _ := os.ReadDir(partial)
	if len(ents) != 4 {
		t.Errorf("after a partial copy: %v", ents)
	}
	done := t.TempDir()
	if err := os.MkdirAll(filepath.Join(done, stageDone), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(done, stageDone, "moved"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(done, "already"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CopyUp(root, "/data", done); err != nil {
		t.Fatal(err)
	}
	var names []string
	ents, _ = os.ReadDir(done)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 2 || names[0] != "already" || names[1] != "moved" {
		t.Errorf("after a done copy: %v", names)
	}
}
