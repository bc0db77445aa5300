package archive

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// The options `cp` uses: whiteout names taken literally, one owner for
// everything, no directory replaced by a file or the other way round,
// and Tar's name prefix.
func TestApplyCopyOptions(t *testing.T) {
	requireRoot(t)
	dst := t.TempDir()
	owned := reg("owned", "o")
	owned.uid, owned.gid = 10, 20
	if err := applyBytes(t, dst, buildTar(t, reg(".wh.file", "literal"), dir("d/"), reg("d/.wh..wh..opq", "x"), owned),
		ApplyOptions{Whiteouts: LiteralWhiteouts, Owner: &Owner{UID: 1234, GID: 4321}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".wh.file", "d/.wh..wh..opq", "owned"} {
		st := lstat(t, filepath.Join(dst, p))
		if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != 1234 || st.Gid != 4321 {
			t.Errorf("%s: mode %o owner %d:%d, want a file owned by 1234:4321", p, st.Mode, st.Uid, st.Gid)
		}
	}
	// No directory/non-directory replacement.
	for _, c := range []struct {
		entries []ent
		want    string
	}{
		{[]ent{reg("d", "file over dir")}, `cannot overwrite directory "d" with non-directory "d"`},
		{[]ent{dir("owned/")}, `cannot overwrite non-directory "owned" with directory "owned/"`},
	} {
		err := applyBytes(t, dst, buildTar(t, c.entries...), ApplyOptions{NoOverwriteDirNonDir: true})
		if err == nil || !errors.Is(err, errdefs.ErrInvalid) || err.Error() != c.want {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	if fi, err := os.Lstat(filepath.Join(dst, "d")); err != nil || !fi.IsDir() {
		t.Error("the refused entry replaced the directory")
	}
	// Without the option a file replaces a directory, as before.
	if err := applyBytes(t, dst, buildTar(t, reg("d", "file")), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestTarPrefix(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a"), "a", 0o644)
	must(t, os.Mkdir(filepath.Join(src, "sub"), 0o755))
	must(t, os.Link(filepath.Join(src, "a"), filepath.Join(src, "sub", "hard")))
	b := tarBytes(t, src, TarOptions{Prefix: "top/"})
	names := tarEntries(t, b)
	if want := []string{"top/a", "top/sub/", "top/sub/hard"}; !slices.Equal(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	// The hardlink points at the prefixed name, so the tar unpacks.
	dst := t.TempDir()
	if err := applyBytes(t, dst, b, ApplyOptions{NoOwnership: true}); err != nil {
		t.Fatal(err)
	}
	if body, _ := os.ReadFile(filepath.Join(dst, "top", "sub", "hard")); !strings.EqualFold(string(body), "a") {
		t.Errorf("hardlink body %q", body)
	}
}
