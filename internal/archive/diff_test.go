package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func mountOverlay(t *testing.T, merged, options string) func() {
	t.Helper()
	if err := unix.Mount("overlay", merged, "overlay", 0, options); err != nil {
		t.Fatalf("mount overlay %s: %v", options, err)
	}
	mounted := true
	unmount := func() {
		if mounted {
			mounted = false
			if err := unix.Unmount(merged, 0); err != nil {
				t.Errorf("unmount %s: %v", merged, err)
				unix.Unmount(merged, unix.MNT_DETACH)
			}
		}
	}
	t.Cleanup(unmount)
	return unmount
}

func mkdirs(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDiffOverlayUpper makes changes through a real overlay mount and checks
// that Diff of the upper directory is the layer Docker would write, that
// applying it onto the lower tree gives what the mount showed, and that
// unpacking it as an overlay lower layer gives the same view again.
func TestDiffOverlayUpper(t *testing.T) {
	requireRoot(t)
	tmp := t.TempDir()
	lower, upper, work, merged := filepath.Join(tmp, "lower"), filepath.Join(tmp, "upper"), filepath.Join(tmp, "work"), filepath.Join(tmp, "merged")
	mkdirs(t, lower, upper, work, merged)
	writeFile(t, filepath.Join(lower, "a"), "A", 0o644)
	writeFile(t, filepath.Join(lower, "b"), "B", 0o644)
	writeFile(t, filepath.Join(lower, "d/x"), "x", 0o644)
	writeFile(t, filepath.Join(lower, "d/sub/z"), "z", 0o644)
	writeFile(t, filepath.Join(lower, "e/f"), "f", 0o644)
	writeFile(t, filepath.Join(lower, "keep"), "K", 0o644)
	writeFile(t, filepath.Join(lower, "same/untouched"), "u", 0o644)
	if err := os.Symlink("a", filepath.Join(lower, "link")); err != nil {
		t.Fatal(err)
	}
	setMtimes(t, lower, testTime)

	unmount := mountOverlay(t, merged, "lowerdir="+lower+",upperdir="+upper+",workdir="+work+",redirect_dir=off,metacopy=off,index=off")
	m := func(p string) string { return filepath.Join(merged, p) }
	writeFile(t, m("a"), "A2", 0o644)                                 // modified: copied up
	must(t, os.Remove(m("b")))                                        // deleted: whiteout
	must(t, os.RemoveAll(m("d")))                                     // deleted with its contents...
	mkdirs(t, m("d"))                                                 // ...and made again: opaque
	writeFile(t, m("d/new"), "new", 0o644)                            //
	must(t, os.RemoveAll(m("e")))                                     // deleted directory: whiteout
	must(t, os.Chmod(m("keep"), 0o600))                               // metadata only
	writeFile(t, m("newdir/file"), "nf", 0o640)                       // new
	writeFile(t, m("h1"), "hard", 0o644)                              // new, hardlinked
	must(t, os.Link(m("h1"), m("h2")))                                //
	must(t, os.Remove(m("link")))                                     // deleted symlink
	must(t, unix.Lsetxattr(m("a"), "user.note", []byte("copied"), 0)) // xattr on a copied-up file
	var mergedTar bytes.Buffer
	if err := Tar(context.Background(), merged, &mergedTar, TarOptions{}); err != nil {
		t.Fatal(err)
	}
	unmount()

	if v, _ := getxattr(t, filepath.Join(upper, "d"), "trusted.overlay.opaque"); v != "y" {
		t.Fatalf("the kernel did not mark upper/d opaque (xattr %q)", v)
	}
	var diff bytes.Buffer
	if err := Diff(context.Background(), upper, &diff, TarOptions{}); err != nil {
		t.Fatalf("Diff: %v", err)
	}
	type entry struct {
		Name, Link string
		Type       byte
		Size       int64
	}
	var got []entry
	for _, h := range tarHeaders(t, diff.Bytes()) {
		got = append(got, entry{h.Name, h.Linkname, h.Typeflag, h.Size})
		if _, ok := h.PAXRecords["SCHILY.xattr.trusted.overlay.opaque"]; ok {
			t.Errorf("%s carries trusted.overlay.opaque", h.Name)
		}
	}
	// In the upper directory's name order; a whiteout sits where its name does.
	want := []entry{
		{"a", "", tar.TypeReg, 2},
		{".wh.b", "", tar.TypeReg, 0},
		{"d/", "", tar.TypeDir, 0},
		{"d/.wh..wh..opq", "", tar.TypeReg, 0},
		{"d/new", "", tar.TypeReg, 3},
		{".wh.e", "", tar.TypeReg, 0},
		{"h1", "", tar.TypeReg, 4},
		{"h2", "h1", tar.TypeLink, 0},
		{"keep", "", tar.TypeReg, 1},
		{".wh.link", "", tar.TypeReg, 0},
		{"newdir/", "", tar.TypeDir, 0},
		{"newdir/file", "", tar.TypeReg, 2},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("Diff entries (-want +got):\n%s", d)
	}
	if h := tarHeaders(t, diff.Bytes())[0]; h.PAXRecords["SCHILY.xattr.user.note"] != "copied" {
		t.Errorf("a: xattrs %v", h.PAXRecords)
	}
	var again bytes.Buffer
	if err := Diff(context.Background(), upper, &again, TarOptions{}); err != nil || !bytes.Equal(diff.Bytes(), again.Bytes()) {
		t.Errorf("a second Diff differs (err %v)", err)
	}

	// Flattening: lower + diff with whiteouts applied = what the mount showed.
	flat := filepath.Join(tmp, "flat")
	mkdirs(t, flat)
	if err := applyBytes(t, flat, tarBytes(t, lower, TarOptions{}), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := applyBytes(t, flat, diff.Bytes(), ApplyOptions{Whiteouts: ApplyWhiteouts}); err != nil {
		t.Fatalf("Apply diff onto lower: %v", err)
	}
	if flatTar := tarBytes(t, flat, TarOptions{}); !bytes.Equal(flatTar, mergedTar.Bytes()) {
		t.Errorf("lower + diff differs from the mount:\n%s", cmp.Diff(describeTar(t, mergedTar.Bytes()), describeTar(t, flatTar)))
	}

	// As an overlay lower layer: whiteouts become 0/0 devices and opaque
	// xattrs; Diff of that directory gives the layer back, and mounting it
	// over the old lower shows the same tree.
	layer := filepath.Join(tmp, "layer")
	mkdirs(t, layer)
	if err := applyBytes(t, layer, diff.Bytes(), ApplyOptions{}); err != nil {
		t.Fatalf("Apply diff as an overlay layer: %v", err)
	}
	var back bytes.Buffer
	if err := Diff(context.Background(), layer, &back, TarOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Bytes(), diff.Bytes()) {
		t.Errorf("Diff(Apply(diff)) differs:\n%s", cmp.Diff(describeTar(t, diff.Bytes()), describeTar(t, back.Bytes())))
	}
	view := filepath.Join(tmp, "view")
	mkdirs(t, view)
	mountOverlay(t, view, "lowerdir="+layer+":"+lower)
	if viewTar := tarBytes(t, view, TarOptions{}); !bytes.Equal(viewTar, mergedTar.Bytes()) {
		t.Errorf("overlay of the unpacked layer differs from the original mount:\n%s",
			cmp.Diff(describeTar(t, mergedTar.Bytes()), describeTar(t, viewTar)))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDiffRefusesRedirects(t *testing.T) {
	requireRoot(t)
	upper := t.TempDir()
	mkdirs(t, filepath.Join(upper, "renamed"))
	must(t, unix.Setxattr(filepath.Join(upper, "renamed"), "trusted.overlay.redirect", []byte("/orig"), 0))
	if err := Diff(context.Background(), upper, &bytes.Buffer{}, TarOptions{}); err == nil {
		t.Error("Diff of an upper directory with a redirect succeeded")
	}
}
