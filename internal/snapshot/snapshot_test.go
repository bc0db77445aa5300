package snapshot_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/archive"
	"github.com/gantry-dev/gantry/internal/fixture"
	"github.com/gantry-dev/gantry/internal/mount"
	"github.com/gantry-dev/gantry/internal/snapshot"
)

// layerN makes layer i holding file fN, on top of the previous one.
func unpackChain(t *testing.T, s *snapshot.Snapshotter, n int) []digest.Digest {
	t.Helper()
	ctx := context.Background()
	var chain []digest.Digest
	var parent digest.Digest
	for i := 0; i < n; i++ {
		id := digest.FromString(fmt.Sprintf("layer %d", i))
		done, err := s.Unpack(ctx, id, parent, func(dir string) error {
			return os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), []byte(fmt.Sprint(i)), 0o644)
		})
		if err != nil || !done {
			t.Fatalf("unpack layer %d: %v (done %v)", i, err, done)
		}
		chain = append(chain, id)
		parent = id
	}
	return chain
}

func TestUnpackOnceAndMount(t *testing.T) {
	fixture.RequireRoot(t)
	ctx := context.Background()
	s, err := snapshot.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	chain := unpackChain(t, s, 3)
	// a second unpack of a present layer does nothing
	called := false
	if done, err := s.Unpack(ctx, chain[0], "", func(string) error { called = true; return nil }); err != nil || done || called {
		t.Errorf("second unpack: done=%v called=%v err=%v", done, called, err)
	}
	mounts, err := s.Prepare(ctx, "c1", chain[2])
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	if err := mount.All(ctx, mounts, target); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if data, err := os.ReadFile(filepath.Join(target, fmt.Sprintf("f%d", i))); err != nil || string(data) != fmt.Sprint(i) {
			t.Errorf("f%d through the mount: %q %v", i, data, err)
		}
	}
	// changes land in the writable layer and come back as a diff
	os.WriteFile(filepath.Join(target, "new"), []byte("x"), 0o644)
	os.Remove(filepath.Join(target, "f0"))
	if err := mount.Unmount(ctx, target); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Diff(ctx, "c1", &buf, archive.TarOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "new") || !strings.Contains(buf.String(), ".wh.f0") {
		t.Errorf("diff lacks the new file or the whiteout")
	}
	if err := s.Remove(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveLayer(ctx, chain[2]); err != nil || s.Exists(chain[2]) {
		t.Errorf("remove layer: %v", err)
	}
}

// A container of 200 layers mounts although their paths exceed a page.
func TestManyLayers(t *testing.T) {
	fixture.RequireRoot(t)
	ctx := context.Background()
	s, err := snapshot.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	chain := unpackChain(t, s, 200)
	mounts, err := s.Prepare(ctx, "many", chain[len(chain)-1])
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Join(mounts[0].Options, ",")); n < 4096 {
		t.Fatalf("options are only %d bytes: the test does not exercise the long path", n)
	}
	target := t.TempDir()
	if err := mount.All(ctx, mounts, target); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(target, unix.MNT_DETACH)
	for _, i := range []int{0, 99, 199} {
		if data, err := os.ReadFile(filepath.Join(target, fmt.Sprintf("f%d", i))); err != nil || string(data) != fmt.Sprint(i) {
			t.Errorf("f%d: %q %v", i, data, err)
		}
	}
}

// Staging a dead process left is cleared; a live one's is not.
func TestStagingOfOtherProcesses(t *testing.T) {
	fixture.RequireRoot(t)
	root := t.TempDir()
	a, err := snapshot.New(root)
	if err != nil {
		t.Fatal(err)
	}
	st, err := a.Stage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := snapshot.New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := os.Stat(st.Dir); err != nil {
		t.Fatalf("a second snapshotter removed a live staging directory: %v", err)
	}
	a.Close()
}

// Directories staged for unpacking are spread over the file system (ext4's
// top-of-hierarchy flag on the staging directory), where the file system
// has the flag at all.
func TestStagingSpreadsLayers(t *testing.T) {
	root := t.TempDir()
	s, err := snapshot.New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Stage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Abort()
	flagsOf := func(dir string) (uint32, error) {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		return unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	}
	staging := filepath.Dir(filepath.Dir(st.Dir))
	flags, err := flagsOf(staging)
	if _, rootErr := flagsOf(root); rootErr != nil {
		// No inode flags on this file system (tmpfs): nothing to check but
		// that staging works, as it did.
		return
	}
	if err != nil || flags&0x00020000 == 0 {
		t.Errorf("staging directory %s: flags %#x, %v; want FS_TOPDIR_FL", staging, flags, err)
	}
}
