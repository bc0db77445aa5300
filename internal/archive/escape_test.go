package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// TestApplyEscapes feeds Apply crafted tars that try to write outside the
// layer root. Each either fails with errdefs.Invalid naming the entry or
// lands inside the root; a sentinel directory beside the root, and the
// host's /etc, must be untouched either way. "$S" in names and link targets
// is the sentinel's absolute path.
func TestApplyEscapes(t *testing.T) {
	type tc struct {
		name    string
		opts    ApplyOptions
		pre     func(t *testing.T, root, sentinel string) // content already in the root
		entries []ent
		wantErr string                          // substring of the error, "" for success
		check   func(t *testing.T, root string) // when it succeeds: where things landed
	}
	isFile := func(rel, body string) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			t.Helper()
			st := lstat(t, filepath.Join(root, rel))
			if st.Mode&0o170000 != 0o100000 {
				t.Fatalf("%s: mode %o, want a regular file", rel, st.Mode)
			}
			b, _ := os.ReadFile(filepath.Join(root, rel))
			if string(b) != body {
				t.Fatalf("%s = %q, want %q", rel, b, body)
			}
		}
	}
	cases := []tc{
		{
			name:    "dotdot name",
			entries: []ent{reg("../sentinel/passwd", "pwned")},
			wantErr: `layer entry "../sentinel/passwd" climbs out of the layer root`,
		},
		{
			name:    "dotdot in the middle",
			entries: []ent{reg("a/../../sentinel/passwd", "pwned")},
			wantErr: `layer entry "a/../../sentinel/passwd" climbs out of the layer root`,
		},
		{
			name:    "bare dotdot directory",
			entries: []ent{dir("../")},
			wantErr: "climbs out of the layer root",
		},
		{
			name:    "absolute name is relative to the root",
			entries: []ent{reg("/etc/gantry-escape-test", "inside")},
			check:   isFile("etc/gantry-escape-test", "inside"),
		},
		{
			name:    "absolute name with dotdot stays in the root",
			entries: []ent{reg("/../../sentinel/passwd", "inside")},
			check:   isFile("sentinel/passwd", "inside"),
		},
		{
			name:    "file through absolute symlink to the sentinel",
			entries: []ent{sym("link", "$S"), reg("link/passwd", "pwned")},
			wantErr: `parent "link" is a symlink to a missing directory`,
		},
		{
			name:    "file through relative symlink climbing to the sentinel",
			entries: []ent{sym("link", "../sentinel"), reg("link/passwd", "pwned")},
			wantErr: `parent "link" is a symlink to a missing directory`,
		},
		{
			name:    "file through symlink to /etc",
			entries: []ent{sym("link", "/etc"), reg("link/gantry-escape-test", "pwned")},
			wantErr: `layer entry "link/gantry-escape-test"`,
		},
		{
			name:    "file through symlink to ../../../../etc",
			entries: []ent{sym("link", "../../../../../../../../etc"), reg("link/gantry-escape-test", "pwned")},
			wantErr: `layer entry "link/gantry-escape-test"`,
		},
		{
			name: "symlink to /etc resolves inside the root when the root has etc",
			entries: []ent{
				// Never a real host file: if this regresses, it must not
				// damage the machine running the test.
				dir("etc/"), sym("link", "/etc"), reg("link/gantry-escape-test", "inside"),
			},
			check: isFile("etc/gantry-escape-test", "inside"),
		},
		{
			name: "relative climbing symlink resolves inside the root",
			entries: []ent{
				dir("sentinel/"), sym("d/link", "../../../sentinel"), reg("d/link/passwd", "inside"),
			},
			check: isFile("sentinel/passwd", "inside"),
		},
		{
			name:    "directory through symlink",
			entries: []ent{sym("link", "$S"), dir("link/newdir/")},
			wantErr: `parent "link" is a symlink to a missing directory`,
		},
		{
			name:    "missing parents under a symlink",
			entries: []ent{sym("link", "$S"), reg("link/sub/deeper/file", "pwned")},
			wantErr: `parent "link" is a symlink to a missing directory`,
		},
		{
			name:    "symlink chain",
			entries: []ent{sym("a", "b"), sym("b", "$S"), reg("a/passwd", "pwned")},
			wantErr: `is a symlink to a missing directory`,
		},
		{
			name: "symlink already in the root",
			pre: func(t *testing.T, root, sentinel string) {
				if err := os.Symlink(sentinel, filepath.Join(root, "etc")); err != nil {
					t.Fatal(err)
				}
			},
			entries: []ent{reg("etc/passwd", "pwned")},
			wantErr: `parent "etc" is a symlink to a missing directory`,
		},
		{
			name:    "file replaces a symlink to an outside file",
			entries: []ent{sym("link", "$S/passwd"), reg("link", "replaced")},
			check:   isFile("link", "replaced"),
		},
		{
			name:    "file replaces a symlink to a file in /etc",
			entries: []ent{sym("passwd", "/etc/gantry-escape-test"), reg("passwd", "replaced")},
			check:   isFile("passwd", "replaced"),
		},
		{
			name:    "directory replaces a symlink to an outside directory",
			entries: []ent{sym("link", "$S"), dir("link/"), reg("link/passwd", "inside")},
			check:   isFile("link/passwd", "inside"),
		},
		{
			name:    "hardlink climbing out",
			entries: []ent{hard("h", "../../sentinel/passwd")},
			wantErr: `layer entry "h" links to "../../sentinel/passwd", outside the layer`,
		},
		{
			name:    "hardlink to an absolute outside path",
			entries: []ent{hard("h", "$S/passwd")},
			wantErr: "which is not in the layer",
		},
		{
			name:    "hardlink to /etc/passwd",
			entries: []ent{hard("h", "/etc/passwd")},
			wantErr: `layer entry "h" links to "/etc/passwd", which is not in the layer`,
		},
		{
			name:    "hardlink through an absolute symlink",
			entries: []ent{sym("link", "$S"), hard("h", "link/passwd")},
			wantErr: `which is not in the layer`,
		},
		{
			name:    "hardlink through a climbing symlink",
			entries: []ent{sym("link", "../sentinel"), hard("h", "link/passwd")},
			wantErr: `which is not in the layer`,
		},
		{
			name:    "hardlink through a symlink to /etc",
			entries: []ent{sym("link", "/etc"), hard("h", "link/passwd")},
			wantErr: `which is not in the layer`,
		},
		{
			name: "hardlink named through a symlink",
			entries: []ent{
				reg("a", "x"), sym("link", "$S"), hard("link/h", "a"),
			},
			wantErr: `parent "link" is a symlink to a missing directory`,
		},
		{
			name: "hardlink to a symlink links the symlink, and a file then replaces it",
			entries: []ent{
				sym("link", "$S/passwd"), hard("h", "link"), reg("h", "replaced"),
			},
			check: func(t *testing.T, root string) {
				isFile("h", "replaced")(t, root)
				if l, err := os.Readlink(filepath.Join(root, "link")); err != nil || !strings.HasSuffix(l, "/passwd") {
					t.Fatalf("link = %q, %v; want the symlink kept", l, err)
				}
			},
		},
		{
			name:    "char device refused",
			opts:    ApplyOptions{NoDevices: true},
			entries: []ent{{name: "dev/mem", typ: tar.TypeChar, mode: 0o600, major: 1, minor: 1}},
			wantErr: `layer entry "dev/mem" is a device node or fifo`,
		},
		{
			name:    "block device refused",
			opts:    ApplyOptions{NoDevices: true},
			entries: []ent{{name: "sda", typ: tar.TypeBlock, mode: 0o600, major: 8, minor: 0}},
			wantErr: `layer entry "sda" is a device node or fifo`,
		},
		{
			name:    "fifo refused",
			opts:    ApplyOptions{NoDevices: true},
			entries: []ent{{name: "fifo", typ: tar.TypeFifo, mode: 0o600}},
			wantErr: `layer entry "fifo" is a device node or fifo`,
		},
		{
			name:    "whiteout through a symlink (apply mode)",
			opts:    ApplyOptions{Whiteouts: ApplyWhiteouts},
			entries: []ent{sym("link", "$S"), reg("link/.wh.passwd", "")},
		},
		{
			name:    "whiteout through a climbing symlink (apply mode)",
			opts:    ApplyOptions{Whiteouts: ApplyWhiteouts},
			entries: []ent{sym("link", "../sentinel"), reg("link/.wh.passwd", "")},
		},
		{
			name:    "whiteout climbing out (apply mode)",
			opts:    ApplyOptions{Whiteouts: ApplyWhiteouts},
			entries: []ent{reg("../sentinel/.wh.passwd", "")},
			wantErr: "climbs out of the layer root",
		},
		{
			name:    "whiteout of dotdot",
			opts:    ApplyOptions{Whiteouts: ApplyWhiteouts},
			entries: []ent{reg("a/.wh..", "")},
			wantErr: "is a whiteout of nothing",
		},
		{
			name:    "opaque marker through a symlink (apply mode)",
			opts:    ApplyOptions{Whiteouts: ApplyWhiteouts},
			entries: []ent{sym("link", "$S"), reg("link/.wh..wh..opq", "")},
		},
		{
			name:    "opaque marker through a climbing symlink (apply mode)",
			opts:    ApplyOptions{Whiteouts: ApplyWhiteouts},
			entries: []ent{sym("link", "../sentinel"), reg("link/.wh..wh..opq", "")},
		},
		{
			name:    "opaque marker through a symlink (overlay mode)",
			entries: []ent{sym("link", "$S"), reg("link/.wh..wh..opq", "")},
			wantErr: `parent "link" is a symlink to a missing directory`,
		},
		{
			name:    "overlay whiteout through a symlink",
			entries: []ent{sym("link", "$S"), reg("link/.wh.passwd", "")},
			wantErr: `parent "link" is a symlink to a missing directory`,
		},
		{
			name: "whiteout removes a symlink, not its target (apply mode)",
			opts: ApplyOptions{Whiteouts: ApplyWhiteouts},
			pre: func(t *testing.T, root, sentinel string) {
				if err := os.Symlink(sentinel, filepath.Join(root, "link")); err != nil {
					t.Fatal(err)
				}
			},
			entries: []ent{reg(".wh.link", "")},
			check: func(t *testing.T, root string) {
				if _, err := os.Lstat(filepath.Join(root, "link")); !os.IsNotExist(err) {
					t.Fatalf("link still there: %v", err)
				}
			},
		},
		{
			name:    "root replaced by a file",
			entries: []ent{reg(".", "x")},
			wantErr: "would replace the layer root",
		},
		{
			name:    "root replaced by a symlink",
			entries: []ent{sym("/", "$S")},
			wantErr: "would replace the layer root",
		},
	}
	etcBefore := describeEtc(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.opts.Whiteouts == OverlayWhiteouts && os.Geteuid() != 0 {
				for _, e := range c.entries {
					if strings.Contains(e.name, ".wh.") {
						t.Skip("overlay whiteouts need root (mknod 0/0, trusted.* xattrs)")
					}
				}
			}
			tmp := t.TempDir()
			root := filepath.Join(tmp, "root")
			sentinel := filepath.Join(tmp, "sentinel")
			writeFile(t, filepath.Join(sentinel, "passwd"), "root:x:0:0::/root:/bin/sh\n", 0o644)
			writeFile(t, filepath.Join(sentinel, "sub", "keep"), "keep", 0o600)
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			if c.pre != nil {
				c.pre(t, root, sentinel)
			}
			before := describe(t, tmp)
			delete(before, "root")
			entries := make([]ent, len(c.entries))
			for i, e := range c.entries {
				e.name = strings.ReplaceAll(e.name, "$S", sentinel)
				e.link = strings.ReplaceAll(e.link, "$S", sentinel)
				entries[i] = e
			}
			opts := c.opts
			opts.NoOwnership = os.Geteuid() != 0
			err := applyBytes(t, root, buildTar(t, entries...), opts)

			after := describe(t, tmp)
			for k := range after {
				if k == "root" || strings.HasPrefix(k, "root/") {
					delete(after, k)
				}
			}
			for k := range before {
				if strings.HasPrefix(k, "root/") {
					delete(before, k)
				}
			}
			if d := diffDescriptions(before, after); d != "" {
				t.Errorf("outside the root changed:\n%s", d)
			}
			if d := diffDescriptions(etcBefore, describeEtc(t)); d != "" {
				t.Errorf("/etc changed:\n%s", d)
			}

			if c.wantErr != "" {
				if err == nil {
					t.Fatalf("Apply succeeded, want an error containing %q", c.wantErr)
				}
				if !errors.Is(err, errdefs.ErrInvalid) {
					t.Errorf("error %q is not errdefs.Invalid", err)
				}
				if !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("error %q does not contain %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if c.check != nil {
				c.check(t, root)
			}
		})
	}
}

// describeEtc describes the host's /etc at its top level (and passwd,
// shadow) so an escape that writes there is seen.
func describeEtc(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, err := os.ReadDir("/etc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		out[e.Name()] = e.Type().String()
	}
	for _, f := range []string{"passwd", "shadow", "group"} {
		st := lstat(t, "/etc/"+f)
		out[f] = fmt.Sprintf("mode=%o size=%d mtime=%d.%d ctime=%d.%d", st.Mode, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
	}
	return out
}
