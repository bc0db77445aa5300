package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

func TestApplyMetadata(t *testing.T) {
	requireRoot(t)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	entries := []ent{
		{name: "./", typ: tar.TypeDir, mode: 0o751, mtime: old},
		{name: "bin/", typ: tar.TypeDir, mode: 0o755, mtime: old},
		{name: "bin/su", typ: tar.TypeReg, body: "#!su", mode: 0o4755, uid: 0, gid: 0},
		{name: "bin/wall", typ: tar.TypeReg, body: "wall", mode: 0o2755, uid: 0, gid: 5},
		{name: "bin/owned", typ: tar.TypeReg, body: "x", mode: 0o4750, uid: 1234, gid: 5678},
		{name: "tmp/", typ: tar.TypeDir, mode: 0o1777, mtime: old},
		{name: "empty/", typ: tar.TypeDir, mode: 0o700, uid: 42, gid: 43, mtime: old},
		{name: "ro/", typ: tar.TypeDir, mode: 0o555, mtime: old},
		{name: "ro/file", typ: tar.TypeReg, body: "in a read-only dir", mode: 0o444},
		{name: "link", typ: tar.TypeSymlink, link: "bin/su", uid: 7, gid: 8, mtime: old},
		{name: "x/y/z/deep", typ: tar.TypeReg, body: "parents made", mode: 0o600},
		{name: "xattr", typ: tar.TypeReg, body: "x", mode: 0o644, xattrs: map[string]string{
			"user.mime":              "text/plain",
			"trusted.gantry":         "t",
			"trusted.overlay.opaque": "y", // dropped: a layer may not steer overlayfs
			"security.gantry-bogus":  "ignored when the fs refuses it",
		}},
		{name: "xdir/", typ: tar.TypeDir, mode: 0o755, xattrs: map[string]string{"user.d": "dir", "trusted.d": "tdir"}},
		{name: "dev/", typ: tar.TypeDir, mode: 0o755},
		{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
		{name: "dev/loop9", typ: tar.TypeBlock, mode: 0o660, major: 7, minor: 9, gid: 6},
		{name: "dev/fifo", typ: tar.TypeFifo, mode: 0o620},
	}
	root := t.TempDir()
	if err := applyBytes(t, root, buildTar(t, entries...), ApplyOptions{}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	type want struct {
		mode     uint32
		uid, gid uint32
		mtime    time.Time
	}
	checks := map[string]want{
		".":          {unix.S_IFDIR | 0o751, 0, 0, old},
		"bin":        {unix.S_IFDIR | 0o755, 0, 0, old},
		"bin/su":     {unix.S_IFREG | 0o4755, 0, 0, testTime},
		"bin/wall":   {unix.S_IFREG | 0o2755, 0, 5, testTime},
		"bin/owned":  {unix.S_IFREG | 0o4750, 1234, 5678, testTime},
		"tmp":        {unix.S_IFDIR | 0o1777, 0, 0, old},
		"empty":      {unix.S_IFDIR | 0o700, 42, 43, old},
		"ro":         {unix.S_IFDIR | 0o555, 0, 0, old},
		"ro/file":    {unix.S_IFREG | 0o444, 0, 0, testTime},
		"link":       {unix.S_IFLNK | 0o777, 7, 8, old},
		"x":          {unix.S_IFDIR | 0o755, 0, 0, time.Time{}},
		"x/y/z":      {unix.S_IFDIR | 0o755, 0, 0, time.Time{}},
		"x/y/z/deep": {unix.S_IFREG | 0o600, 0, 0, testTime},
		"dev/null":   {unix.S_IFCHR | 0o666, 0, 0, testTime},
		"dev/loop9":  {unix.S_IFBLK | 0o660, 0, 6, testTime},
		"dev/fifo":   {unix.S_IFIFO | 0o620, 0, 0, testTime},
	}
	for rel, w := range checks {
		st := lstat(t, filepath.Join(root, rel))
		if st.Mode != w.mode || st.Uid != w.uid || st.Gid != w.gid {
			t.Errorf("%s: mode %o uid %d gid %d, want %o %d %d", rel, st.Mode, st.Uid, st.Gid, w.mode, w.uid, w.gid)
		}
		// Directories' mtimes are set after their contents are written.
		if !w.mtime.IsZero() && st.Mtim.Sec != w.mtime.Unix() {
			t.Errorf("%s: mtime %v, want %v", rel, time.Unix(st.Mtim.Sec, 0).UTC(), w.mtime)
		}
	}
	if st := lstat(t, filepath.Join(root, "dev/null")); unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		t.Errorf("dev/null is %d,%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	if b, _ := os.ReadFile(filepath.Join(root, "x/y/z/deep")); string(b) != "parents made" {
		t.Errorf("x/y/z/deep = %q", b)
	}
	for _, x := range []struct{ path, name, value string }{
		{"xattr", "user.mime", "text/plain"},
		{"xattr", "trusted.gantry", "t"},
		{"xdir", "user.d", "dir"},
		{"xdir", "trusted.d", "tdir"},
	} {
		if v, ok := getxattr(t, filepath.Join(root, x.path), x.name); !ok || v != x.value {
			t.Errorf("%s: xattr %s = %q, %v; want %q", x.path, x.name, v, ok, x.value)
		}
	}
	if _, ok := getxattr(t, filepath.Join(root, "xattr"), "trusted.overlay.opaque"); ok {
		t.Errorf("trusted.overlay.opaque from the tar was applied")
	}
}

func TestApplyReplace(t *testing.T) {
	cases := []struct {
		name    string
		entries []ent
		want    map[string]string // path -> "file:body", "dir", "link:target"; missing paths: "-"
	}{
		{
			name:    "file over file",
			entries: []ent{reg("a", "one"), reg("a", "two")},
			want:    map[string]string{"a": "file:two"},
		},
		{
			name:    "dir over dir merges",
			entries: []ent{dir("d/"), reg("d/one", "1"), dir("d/"), reg("d/two", "2")},
			want:    map[string]string{"d": "dir", "d/one": "file:1", "d/two": "file:2"},
		},
		{
			name:    "file over dir removes the dir",
			entries: []ent{dir("d/"), reg("d/one", "1"), dir("d/sub/"), reg("d/sub/x", "x"), reg("d", "file now")},
			want:    map[string]string{"d": "file:file now", "d/one": "-"},
		},
		{
			name:    "dir over file",
			entries: []ent{reg("d", "file"), dir("d/"), reg("d/in", "in")},
			want:    map[string]string{"d": "dir", "d/in": "file:in"},
		},
		{
			name:    "symlink over dir",
			entries: []ent{dir("d/"), reg("d/one", "1"), sym("d", "elsewhere")},
			want:    map[string]string{"d": "link:elsewhere"},
		},
		{
			name:    "dir over symlink",
			entries: []ent{dir("real/"), sym("d", "real"), dir("d/"), reg("d/x", "x")},
			want:    map[string]string{"d": "dir", "d/x": "file:x", "real/x": "-"},
		},
		{
			name:    "file over a hardlinked file leaves the other link alone",
			entries: []ent{reg("a", "shared"), hard("b", "a"), reg("a", "new")},
			want:    map[string]string{"a": "file:new", "b": "file:shared"},
		},
		{
			name: "entries through a replaced parent go to the new one",
			entries: []ent{
				dir("p/"), dir("p/q/"), reg("p/q/1", "1"),
				reg("p", "now a file"), dir("p/"), dir("p/q/"), reg("p/q/2", "2"),
			},
			want: map[string]string{"p/q/1": "-", "p/q/2": "file:2"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			if err := applyBytes(t, root, buildTar(t, c.entries...), ApplyOptions{NoOwnership: true}); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			for rel, w := range c.want {
				if got := kindOf(t, filepath.Join(root, rel)); got != w {
					t.Errorf("%s: %s, want %s", rel, got, w)
				}
			}
		})
	}
}

func kindOf(t *testing.T, p string) string {
	t.Helper()
	fi, err := os.Lstat(p)
	if os.IsNotExist(err) || errors.Is(err, unix.ENOTDIR) {
		return "-"
	}
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		l, _ := os.Readlink(p)
		return "link:" + l
	case fi.IsDir():
		return "dir"
	case fi.Mode().IsRegular():
		b, _ := os.ReadFile(p)
		return "file:" + string(b)
	}
	return fi.Mode().String()
}

func TestApplyHardlinks(t *testing.T) {
	root := t.TempDir()
	entries := []ent{
		reg("bin/busybox", "bb"),
		hard("bin/sh", "bin/busybox"),
		hard("/usr/bin/env", "/bin/busybox"), // absolute names, parents made
		sym("lnk", "bin/busybox"),
		hard("lnk2", "lnk"), // a hardlink to a symlink is the symlink
	}
	if err := applyBytes(t, root, buildTar(t, entries...), ApplyOptions{NoOwnership: true}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	bb := lstat(t, filepath.Join(root, "bin/busybox"))
	for _, p := range []string{"bin/sh", "usr/bin/env"} {
		if st := lstat(t, filepath.Join(root, p)); st.Ino != bb.Ino {
			t.Errorf("%s is inode %d, bin/busybox %d", p, st.Ino, bb.Ino)
		}
	}
	if bb.Nlink != 3 {
		t.Errorf("bin/busybox has %d links, want 3", bb.Nlink)
	}
	if l, err := os.Readlink(filepath.Join(root, "lnk2")); err != nil || l != "bin/busybox" {
		t.Errorf("lnk2 = %q, %v", l, err)
	}
	// Round trip: Tar writes them back as TypeLink.
	got := tarEntries(t, tarBytes(t, root, TarOptions{}))
	want := []string{"bin/", "bin/busybox", "bin/sh", "lnk", "lnk2", "usr/", "usr/bin/", "usr/bin/env"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Tar entries (-want +got):\n%s", d)
	}
	tr := tar.NewReader(bytes.NewReader(tarBytes(t, root, TarOptions{})))
	links := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeLink {
			links[hdr.Name] = hdr.Linkname
		}
	}
	if d := cmp.Diff(map[string]string{"bin/sh": "bin/busybox", "usr/bin/env": "bin/busybox", "lnk2": "lnk"}, links); d != "" {
		t.Errorf("hardlinks (-want +got):\n%s", d)
	}
}

func TestApplyOverlayWhiteouts(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	entries := []ent{
		dir("etc/"),
		{name: "etc/.wh.motd", typ: tar.TypeReg, mode: 0o644, uid: 3, gid: 4},
		dir("var/"),
		dir("var/cache/"),
		reg("var/cache/.wh..wh..opq", ""),
		reg("var/cache/fresh", "new"),
		reg("opt/deep/.wh..wh..opq", ""), // parents made
		reg("gone/.wh.dir", ""),
		reg(".wh..wh.plnk", ""), // AUFS bookkeeping: ignored
	}
	if err := applyBytes(t, root, buildTar(t, entries...), ApplyOptions{NoDevices: true}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, p := range []string{"etc/motd", "gone/dir"} {
		st := lstat(t, filepath.Join(root, p))
		if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("%s: mode %o rdev %d, want a 0/0 character device", p, st.Mode, st.Rdev)
		}
	}
	if st := lstat(t, filepath.Join(root, "etc/motd")); st.Uid != 3 || st.Gid != 4 || st.Mtim.Sec != testTime.Unix() {
		t.Errorf("etc/motd whiteout: uid %d gid %d mtime %d", st.Uid, st.Gid, st.Mtim.Sec)
	}
	for _, p := range []string{"var/cache", "opt/deep"} {
		if v, ok := getxattr(t, filepath.Join(root, p), "trusted.overlay.opaque"); v != "y" {
			t.Errorf("%s: trusted.overlay.opaque = %q, %v", p, v, ok)
		}
	}
	if _, ok := getxattr(t, filepath.Join(root, "var"), "trusted.overlay.opaque"); ok {
		t.Errorf("var is marked opaque")
	}
	for _, p := range []string{"etc/.wh.motd", "var/cache/.wh..wh..opq", ".wh..wh.plnk"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s exists: %v", p, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "var/cache/fresh")); string(b) != "new" {
		t.Errorf("var/cache/fresh = %q", b)
	}
}

func TestApplyApplyWhiteouts(t *testing.T) {
	root := t.TempDir()
	opts := ApplyOptions{Whiteouts: ApplyWhiteouts, NoOwnership: true}
	lower := buildTar(t,
		reg("etc/motd", "hi"),
		reg("etc/keep", "keep"),
		reg("var/cache/a", "a"),
		reg("var/cache/sub/b", "b"),
		reg("var/cache/merged/old", "old"),
		reg("srv/x/y", "y"),
		reg("opt/before", "before"),
	)
	if err := applyBytes(t, root, lower, opts); err != nil {
		t.Fatalf("Apply lower: %v", err)
	}
	upper := buildTar(t,
		reg("etc/.wh.motd", ""),
		dir("var/cache/"),
		dir("var/cache/merged/"),         // this layer's, before the marker: kept, but emptied of lower contents
		reg("var/cache/merged/new", "n"), // kept
		reg("var/cache/.wh..wh..opq", ""),
		reg("var/cache/fresh", "new"),
		reg(".wh.srv", ""),
		reg("nothing/.wh.here", ""), // nothing to remove
		reg("opt/.wh..wh..opq", ""), // without a directory entry
		reg("opt/after", "after"),
	)
	if err := applyBytes(t, root, upper, opts); err != nil {
		t.Fatalf("Apply upper: %v", err)
	}
	got := map[string]string{}
	for rel := range describe(t, root) {
		if rel != "." {
			got[rel] = kindOf(t, filepath.Join(root, rel))
		}
	}
	want := map[string]string{
		"etc":                  "dir",
		"etc/keep":             "file:keep",
		"var":                  "dir",
		"var/cache":            "dir",
		"var/cache/fresh":      "file:new",
		"var/cache/merged":     "dir",
		"var/cache/merged/new": "file:n",
		"opt":                  "dir",
		"opt/after":            "file:after",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("tree after applying whiteouts (-want +got):\n%s", d)
	}
}

func TestApplySizeCountsPadding(t *testing.T) {
	b := buildTar(t, reg("a", strings.Repeat("x", 1000)), dir("d/"))
	// Like GNU tar, pad the stream to a 10240-byte record.
	padded := append(append([]byte{}, b...), make([]byte, 10240-len(b)%10240)...)
	for _, in := range [][]byte{b, padded} {
		n, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(in), ApplyOptions{NoOwnership: true})
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(len(in)) {
			t.Errorf("Apply returned %d, stream is %d bytes", n, len(in))
		}
	}
}

func TestApplyBadInput(t *testing.T) {
	good := buildTar(t, reg("a", strings.Repeat("x", 4096)))
	cases := []struct {
		name string
		in   []byte
	}{
		{"garbage", bytes.Repeat([]byte("not a tar "), 100)},
		{"truncated", good[:1024]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(c.in), ApplyOptions{NoOwnership: true})
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("Apply: %v, want errdefs.Invalid", err)
			}
		})
	}
	if _, err := Apply(context.Background(), filepath.Join(t.TempDir(), "missing"), bytes.NewReader(good), ApplyOptions{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Apply into a missing directory: %v, want errdefs.NotFound", err)
	}
}

func TestApplyCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Apply(ctx, t.TempDir(), bytes.NewReader(buildTar(t, reg("a", "a"))), ApplyOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Apply with a cancelled context: %v", err)
	}
	// Cancelled in the middle of a stream.
	ctx, cancel = context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Size: 1 << 30, Mode: 0o644})
		chunk := make([]byte, 1<<20)
		for i := 0; ; i++ {
			if i == 4 {
				cancel()
			}
			if _, err := tw.Write(chunk); err != nil {
				return
			}
		}
	}()
	_, err = Apply(ctx, t.TempDir(), pr, ApplyOptions{NoOwnership: true})
	pr.CloseWithError(errors.New("done"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Apply cancelled mid-stream: %v", err)
	}
}

func TestApplyNoOwnershipKeepsCaller(t *testing.T) {
	root := t.TempDir()
	e := reg("f", "x")
	e.uid, e.gid = 4321, 4321
	if err := applyBytes(t, root, buildTar(t, e), ApplyOptions{NoOwnership: true}); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, filepath.Join(root, "f")); st.Uid != uint32(os.Geteuid()) {
		t.Errorf("f owned by %d with NoOwnership", st.Uid)
	}
}

func TestSync(t *testing.T) {
	if err := Sync(context.Background(), t.TempDir()); err != nil {
		t.Errorf("Sync: %v", err)
	}
	if err := Sync(context.Background(), filepath.Join(t.TempDir(), "missing")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Sync of a missing directory: %v", err)
	}
}

// Owners and modes come out as the tar says whatever the directory they land
// in would give a new file: a setgid root, a default ACL, an odd umask.
func TestApplyOwnerAndModeWhateverTheDirectory(t *testing.T) {
	requireRoot(t)
	entries := []ent{
		reg("f", "f"),
		{name: "g", typ: tar.TypeReg, body: "g", mode: 0o664, uid: 0, gid: 0},
		{name: "d/", typ: tar.TypeDir, mode: 0o755},
		{name: "d/h", typ: tar.TypeReg, body: "h", mode: 0o666},
		{name: "x/y/z", typ: tar.TypeReg, body: "z", mode: 0o640},
		sym("l", "f"),
	}
	wantModes := map[string]uint32{"f": 0o644, "g": 0o664, "d": 0o755, "d/h": 0o666, "x/y": 0o755, "x/y/z": 0o640}
	check := func(t *testing.T, root string) {
		t.Helper()
		for rel, mode := range wantModes {
			st := lstat(t, filepath.Join(root, rel))
			if st.Mode&0o7777 != mode || st.Uid != 0 || st.Gid != 0 {
				t.Errorf("%s: mode %o owner %d:%d, want %o 0:0", rel, st.Mode&0o7777, st.Uid, st.Gid, mode)
			}
		}
		if st := lstat(t, filepath.Join(root, "l")); st.Gid != 0 {
			t.Errorf("l: gid %d", st.Gid)
		}
	}
	t.Run("setgid root", func(t *testing.T) {
		root := t.TempDir()
		must(t, os.Chown(root, 0, 1234))
		must(t, unix.Chmod(root, 0o2775))
		must(t, applyBytes(t, root, buildTar(t, entries...), ApplyOptions{}))
		check(t, root)
	})
	t.Run("default ACL on the root", func(t *testing.T) {
		root := t.TempDir()
		// user::rwx group::--- other::--- as a default ACL (xattr format v2).
		acl := []byte{2, 0, 0, 0,
			0x01, 0, 7, 0, 0xff, 0xff, 0xff, 0xff,
			0x04, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
			0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}
		if err := unix.Setxattr(root, "system.posix_acl_default", acl, 0); err != nil {
			t.Skipf("no POSIX ACLs here: %v", err)
		}
		must(t, applyBytes(t, root, buildTar(t, entries...), ApplyOptions{}))
		check(t, root)
	})
	t.Run("umask 077", func(t *testing.T) {
		old := unix.Umask(0o077)
		defer unix.Umask(old)
		root := t.TempDir()
		must(t, applyBytes(t, root, buildTar(t, entries...), ApplyOptions{}))
		check(t, root)
	})
	t.Run("umask 0", func(t *testing.T) {
		old := unix.Umask(0)
		defer unix.Umask(old)
		root := t.TempDir()
		must(t, applyBytes(t, root, buildTar(t, entries...), ApplyOptions{}))
		check(t, root)
	})
}
