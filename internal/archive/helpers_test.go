package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ent is one entry of a tar built by a test.
type ent struct {
	name     string
	typ      byte
	body     string
	link     string
	mode     int64
	uid, gid int
	mtime    time.Time
	xattrs   map[string]string
	major    int64
	minor    int64
}

var testTime = time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

func reg(name, body string) ent { return ent{name: name, typ: tar.TypeReg, body: body, mode: 0o644} }
func dir(name string) ent       { return ent{name: name, typ: tar.TypeDir, mode: 0o755} }
func sym(name, target string) ent {
	return ent{name: name, typ: tar.TypeSymlink, link: target, mode: 0o777}
}
func hard(name, target string) ent {
	return ent{name: name, typ: tar.TypeLink, link: target, mode: 0o644}
}

// buildTar writes entries as a tar in PAX format.
func buildTar(t testing.TB, entries ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mt := e.mtime
		if mt.IsZero() {
			mt = testTime
		}
		hdr := &tar.Header{
			Typeflag: e.typ,
			Name:     e.name,
			Linkname: e.link,
			Mode:     e.mode,
			Uid:      e.uid,
			Gid:      e.gid,
			ModTime:  mt,
			Devmajor: e.major,
			Devminor: e.minor,
			Format:   tar.FormatPAX,
		}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		for k, v := range e.xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("writing test tar header %q: %v", e.name, err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates device nodes, trusted.* xattrs and files owned by other users")
	}
}

// describe returns a line per path under root: type, mode, owner, mtime,
// size, content digest or link target. Equal descriptions mean nothing
// there changed.
func describe(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		line := fmt.Sprintf("mode=%o uid=%d gid=%d mtime=%d.%09d size=%d", st.Mode, st.Uid, st.Gid, st.Mtim.Sec, st.Mtim.Nsec, st.Size)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" sha=%x", sha256.Sum256(b))
		case unix.S_IFLNK:
			l, _ := os.Readlink(p)
			line += " -> " + l
		}
		out[rel] = line
		return nil
	})
	if err != nil {
		t.Fatalf("describe %s: %v", root, err)
	}
	return out
}

// tarEntries lists the headers of a tar stream with a digest of each body.
func tarEntries(t testing.TB, b []byte) []string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out []string
	for {
		hdr, err := tr.Next()
		if err != nil {
			if err == io.EOF {
				return out
			}
			t.Fatalf("reading tar: %v", err)
		}
		out = append(out, hdr.Name)
	}
}

func applyBytes(t testing.TB, dir string, b []byte, opts ApplyOptions) error {
	t.Helper()
	n, err := Apply(context.Background(), dir, bytes.NewReader(b), opts)
	if err == nil && n != int64(len(b)) {
		t.Errorf("Apply read %d bytes, the tar has %d", n, len(b))
	}
	return err
}

func tarBytes(t testing.TB, dir string, opts TarOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Tar(context.Background(), dir, &buf, opts); err != nil {
		t.Fatalf("Tar %s: %v", dir, err)
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, p, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

func lstat(t testing.TB, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return st
}

func getxattr(t testing.TB, p, name string) (string, bool) {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return "", false
	}
	return string(buf[:n]), true
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func diffDescriptions(before, after map[string]string) string {
	var sb strings.Builder
	for _, k := range sortedKeys(after) {
		if before[k] != after[k] {
			fmt.Fprintf(&sb, "  %s: %q -> %q\n", k, before[k], after[k])
		}
	}
	for _, k := range sortedKeys(before) {
		if _, ok := after[k]; !ok {
			fmt.Fprintf(&sb, "  %s: removed\n", k)
		}
	}
	return sb.String()
}
