package diskusage

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// Dir counts every non-directory at its size, a hardlinked file once, and
// never follows a symlink.
func TestDir(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	write := func(p string, n int) {
		t.Helper()
		if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(root, "a", "one"), 1000)
	write(filepath.Join(root, "a", "b", "two"), 2000)
	write(filepath.Join(outside, "big"), 1<<20)
	if err := os.Link(filepath.Join(root, "a", "one"), filepath.Join(root, "one-again")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	got, err := Dir(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(1000 + 2000 + len(outside)); got != want {
		t.Errorf("Dir = %d, want %d", got, want)
	}
	if n, err := Dir(context.Background(), filepath.Join(root, "missing")); n != 0 || err != nil {
		t.Errorf("a missing directory: %d %v", n, err)
	}
}
