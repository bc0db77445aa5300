package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// makeTree builds a tree with every kind of entry Tar writes. mtime is set
// on everything (directories last).
func makeTree(t *testing.T, root string, mtime time.Time) {
	t.Helper()
	writeFile(t, filepath.Join(root, "a.txt"), "hello\n", 0o644)
	writeFile(t, filepath.Join(root, "bin/tool"), strings.Repeat("binary", 100000), 0o755)
	writeFile(t, filepath.Join(root, "bin/suid"), "s", 0o644)
	if err := unix.Chmod(filepath.Join(root, "bin/suid"), 0o4755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(root, "bin/tool"), filepath.Join(root, "bin/tool-alias")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../a.txt", filepath.Join(root, "bin/link")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"empty", "sticky", "z/y/x"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Chmod(filepath.Join(root, "sticky"), 0o1777); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "a-b"), "sorts before a/ but after a.txt", 0o600)
	long := filepath.Join(root, "long", strings.Repeat("n", 120), strings.Repeat("m", 120))
	writeFile(t, long, "long name", 0o644)
	if err := unix.Mkfifo(filepath.Join(root, "fifo"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(filepath.Join(root, "fifo"), 0o640); err != nil {
		t.Fatal(err)
	}
	setx := func(rel, name, value string) {
		if err := unix.Lsetxattr(filepath.Join(root, rel), name, []byte(value), 0); err != nil {
			t.Fatalf("setxattr %s %s: %v", rel, name, err)
		}
	}
	setx("a.txt", "user.b", "2")
	setx("a.txt", "user.a", "1")
	if os.Geteuid() == 0 {
		setx("a.txt", "trusted.kept", "t")
		setx("empty", "trusted.overlay.opaque", "y") // not written by Tar
		if err := os.Lchown(filepath.Join(root, "bin/tool"), 1000, 1001); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(filepath.Join(root, "bin/link"), 5, 6); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mknod(filepath.Join(root, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
		if err := unix.Chmod(filepath.Join(root, "null"), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	setMtimes(t, root, mtime)
}

// setMtimes sets mtime on everything under root, children before parents.
func setMtimes(t *testing.T, root string, mtime time.Time) {
	t.Helper()
	var paths []string
	filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err == nil && p != root {
			paths = append(paths, p)
		}
		return nil
	})
	ts := []unix.Timespec{timespec(mtime), timespec(mtime)}
	for i := len(paths) - 1; i >= 0; i-- {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, paths[i], ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTarFormat(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, testTime)
	// A socket is left out.
	l, err := net.Listen("unix", filepath.Join(root, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	b := tarBytes(t, root, TarOptions{})
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	hdrs := map[string]*tar.Header{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		hdrs[hdr.Name] = hdr
		if hdr.Uname != "" || hdr.Gname != "" {
			t.Errorf("%s: user/group names %q/%q", hdr.Name, hdr.Uname, hdr.Gname)
		}
		if hdr.ModTime.Unix() != testTime.Unix() || hdr.ModTime.Nanosecond() != 0 {
			t.Errorf("%s: mtime %v", hdr.Name, hdr.ModTime)
		}
		if (hdr.Typeflag == tar.TypeDir) != strings.HasSuffix(hdr.Name, "/") {
			t.Errorf("%s: type %c and trailing slash disagree", hdr.Name, hdr.Typeflag)
		}
	}
	longDir := "long/" + strings.Repeat("n", 120) + "/"
	want := []string{"a-b", "a.txt", "bin/", "bin/link", "bin/suid", "bin/tool", "bin/tool-alias", "empty/", "fifo",
		"long/", longDir, longDir + strings.Repeat("m", 120)}
	if os.Geteuid() == 0 {
		want = append(want, "null")
	}
	want = append(want, "sticky/", "z/", "z/y/", "z/y/x/")
	if d := cmp.Diff(want, names); d != "" {
		t.Fatalf("entries (-want +got):\n%s", d)
	}
	check := func(name string, typ byte, mode int64) *tar.Header {
		h := hdrs[name]
		if h.Typeflag != typ || h.Mode != mode {
			t.Errorf("%s: type %c mode %o, want %c %o", name, h.Typeflag, h.Mode, typ, mode)
		}
		return h
	}
	check("bin/suid", tar.TypeReg, 0o4755)
	check("sticky/", tar.TypeDir, 0o1777)
	check("fifo", tar.TypeFifo, 0o640)
	if h := check("bin/tool-alias", tar.TypeLink, 0o755); h.Linkname != "bin/tool" || h.Size != 0 {
		t.Errorf("bin/tool-alias: link %q size %d", h.Linkname, h.Size)
	}
	if h := check("bin/link", tar.TypeSymlink, 0o777); h.Linkname != "../a.txt" {
		t.Errorf("bin/link -> %q", h.Linkname)
	}
	wantX := map[string]string{"SCHILY.xattr.user.a": "1", "SCHILY.xattr.user.b": "2"}
	if os.Geteuid() == 0 {
		wantX["SCHILY.xattr.trusted.kept"] = "t"
		if h := check("null", tar.TypeChar, 0o666); h.Devmajor != 1 || h.Devminor != 3 {
			t.Errorf("null: %d,%d", h.Devmajor, h.Devminor)
		}
		if h := hdrs["bin/tool"]; h.Uid != 1000 || h.Gid != 1001 {
			t.Errorf("bin/tool: owner %d:%d", h.Uid, h.Gid)
		}
		if h := hdrs["bin/link"]; h.Uid != 5 || h.Gid != 6 {
			t.Errorf("bin/link: owner %d:%d", h.Uid, h.Gid)
		}
	}
	gotX := map[string]string{}
	for k, v := range hdrs["a.txt"].PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			gotX[k] = v
		}
	}
	if d := cmp.Diff(wantX, gotX); d != "" {
		t.Errorf("a.txt xattrs (-want +got):\n%s", d)
	}
	if len(hdrs["empty/"].PAXRecords) != 0 {
		t.Errorf("empty/ has PAX records %v (trusted.overlay.* must be left out)", hdrs["empty/"].PAXRecords)
	}
}

func TestTarDeterministic(t *testing.T) {
	a := t.TempDir()
	makeTree(t, a, testTime)
	first := tarBytes(t, a, TarOptions{})
	if second := tarBytes(t, a, TarOptions{}); !bytes.Equal(first, second) {
		t.Fatalf("two runs over the same tree differ")
	}
	// Same content, different inodes and later mtimes: clamped, the same bytes.
	b := t.TempDir()
	makeTree(t, b, time.Now())
	setMtimes(t, a, time.Now().Add(time.Hour))
	clamp := TarOptions{ClampMtime: testTime.Add(500 * time.Millisecond)}
	da := sha256.Sum256(tarBytes(t, a, clamp))
	db := sha256.Sum256(tarBytes(t, b, clamp))
	if da != db {
		t.Errorf("clamped tars differ: %x vs %x", da, db)
	}
	if da != sha256.Sum256(first) {
		t.Errorf("clamping to the original mtime should give the original bytes")
	}
	// Older mtimes are not raised to the clamp.
	setMtimes(t, b, testTime.Add(-time.Hour))
	for _, n := range tarHeaders(t, tarBytes(t, b, clamp)) {
		if !n.ModTime.Equal(testTime.Add(-time.Hour)) {
			t.Errorf("%s: mtime %v, want the older original", n.Name, n.ModTime)
		}
	}
}

func tarHeaders(t testing.TB, b []byte) []*tar.Header {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out []*tar.Header
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, hdr)
	}
}

func TestTarApplyRoundTrip(t *testing.T) {
	src := t.TempDir()
	makeTree(t, src, testTime)
	first := tarBytes(t, src, TarOptions{})
	dst := t.TempDir()
	opts := ApplyOptions{NoOwnership: os.Geteuid() != 0}
	if err := applyBytes(t, dst, first, opts); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	second := tarBytes(t, dst, TarOptions{})
	if !bytes.Equal(first, second) {
		t.Errorf("Tar → Apply → Tar changed the bytes:\n%s", cmp.Diff(describeTar(t, first), describeTar(t, second)))
	}
}

// describeTar renders headers for readable diffs.
func describeTar(t *testing.T, b []byte) []string {
	var out []string
	for _, h := range tarHeaders(t, b) {
		out = append(out, fmt.Sprintf("%s %c link=%q mode=%o owner=%d:%d size=%d mtime=%d pax=%v",
			h.Name, h.Typeflag, h.Linkname, h.Mode, h.Uid, h.Gid, h.Size, h.ModTime.Unix(), h.PAXRecords))
	}
	return out
}

func TestTarCancelled(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, testTime)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Tar(ctx, root, io.Discard, TarOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Tar with a cancelled context: %v", err)
	}
}
