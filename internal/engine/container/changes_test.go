package container

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/moby/api/types/container"
)

func changesOf(t *testing.T, upper string, lowers ...string) []container.FilesystemChange {
	t.Helper()
	c := &changeWalk{dirs: map[string]bool{}}
	for _, l := range lowers {
		f, err := os.Open(l)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		c.lowers = append(c.lowers, f)
	}
	if err := c.walk(context.Background(), upper, "/"); err != nil {
		t.Fatal(err)
	}
	return c.dropRuntimeParents()
}

// The runtime's mount points are not the container's changes, nor the
// directories made only to hold them; anything else in them is.
func TestChangesLeaveOutRuntimePaths(t *testing.T) {
	upper, lower := t.TempDir(), t.TempDir()
	for _, d := range []string{"etc", "proc", "dev"} {
		if err := os.Mkdir(filepath.Join(upper, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"etc/hosts", "etc/resolv.conf", "etc/hostname"} {
		if err := os.WriteFile(filepath.Join(upper, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := changesOf(t, upper, lower); len(got) != 0 {
		t.Errorf("changes of mount points only: %v", got)
	}
	if err := os.WriteFile(filepath.Join(upper, "etc", "app.conf"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := changesOf(t, upper, lower)
	want := []container.FilesystemChange{{Path: "/etc", Kind: container.ChangeAdd}, {Path: "/etc/app.conf", Kind: container.ChangeAdd}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("changes %v, want %v", got, want)
	}
}
