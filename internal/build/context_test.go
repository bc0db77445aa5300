package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestContextSelectionAndEscapes(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	for name, content := range map[string]string{"a.txt": "a", "b.txt": "b", "logs/x.log": "x", "logs/keep.log": "k", "src/main.go": "m"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
	}
	os.Symlink(outside, filepath.Join(dir, "out"))
	os.Symlink("src/main.go", filepath.Join(dir, "inlink"))
	c, err := openContext(dir, []byte("logs\n!logs/keep.log\n*.md\n"), &hashCache{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.resolveSources("*.txt")
	if err != nil || strings.Join(got, ",") != "a.txt,b.txt" {
		t.Errorf("wildcard: %v %v", got, err)
	}
	files, err := c.collect(".", nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.dst)
	}
	list := strings.Join(names, ",")
	if strings.Contains(list, "x.log") || !strings.Contains(list, "logs/keep.log") {
		t.Errorf(".dockerignore with an exception: %s", list)
	}
	for _, src := range []string{"../x", "out/secret", "out"} {
		if _, err := c.resolveSources(src); src != "out" && (err == nil || !strings.Contains(err.Error(), "outside the build context")) {
			t.Errorf("%s: %v", src, err)
		}
	}
	// The symlink itself is copied as a link, never followed out.
	fs, err := c.collect("out", nil)
	if err != nil || len(fs) != 1 || fs[0].link != outside {
		t.Errorf("symlink entry: %+v %v", fs, err)
	}
	// Checksums: content and mode count, mtime does not.
	sum := func() string {
		f, err := c.collect("a.txt", nil)
		if err != nil {
			t.Fatal(err)
		}
		return f[0].digest
	}
	s1 := sum()
	os.Chtimes(filepath.Join(dir, "a.txt"), time.Unix(1, 0), time.Unix(1, 0))
	if sum() != s1 {
		t.Error("mtime changed the checksum")
	}
	os.Chmod(filepath.Join(dir, "a.txt"), 0o600)
	s2 := sum()
	if s2 == s1 {
		t.Error("mode did not change the checksum")
	}
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("A"), 0o600)
	if sum() == s2 {
		t.Error("content did not change the checksum")
	}
}
