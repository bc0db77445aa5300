package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// Rebuilding a pulled layer's tar reads its files by their tar names; a
// symlink in the layer must not lead those reads to the host's files.
func TestOpenRegularInRootStaysInTheLayer(t *testing.T) {
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "secret"), []byte("host secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	layer := t.TempDir()
	os.Mkdir(filepath.Join(layer, "etc"), 0o755)
	os.WriteFile(filepath.Join(layer, "etc", "secret"), []byte("layer file"), 0o644)
	os.Symlink(host, filepath.Join(layer, "abs"))                        // absolute, to the host
	os.Symlink("../../../../../../.."+host, filepath.Join(layer, "rel")) // climbing
	os.Symlink(filepath.Join(host, "secret"), filepath.Join(layer, "direct"))
	root, err := os.Open(layer)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, name := range []string{"abs/secret", "rel/secret", "direct", "../secret"} {
		rc, err := openRegularInRoot(root, name)
		if err != nil {
			continue // refused: fine
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if string(data) == "host secret" {
			t.Errorf("Get(%q) read the host's file", name)
		}
	}
	rc, err := openRegularInRoot(root, "etc/secret")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if string(data) != "layer file" {
		t.Errorf("Get(etc/secret) = %q", data)
	}
}

// A layer's original tar comes back byte for byte from its files and the
// tar-split metadata recorded while it was unpacked; a file whose size
// changed since is an error, not a different tar.
func TestOriginalTarRoundTrip(t *testing.T) {
	var orig bytes.Buffer
	tw := tar.NewWriter(&orig)
	for _, e := range []struct {
		name, body string
		dir        bool
	}{{"etc/", "", true}, {"etc/hostname", "layer\n", false}, {"empty", "", false}, {"big", strings.Repeat("x", 100_000), false}} {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg, ModTime: time.Unix(1e9, 0), Format: tar.FormatPAX}
		if e.dir {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	tw.Close()

	fs := filepath.Join(t.TempDir(), "fs")
	os.Mkdir(fs, 0o755)
	r, finish, err := recordTarSplit(fs, bytes.NewReader(orig.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(fs, h.Name)
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		data, _ := io.ReadAll(tr)
		os.WriteFile(p, data, 0o644)
	}
	if err := finish(); err != nil {
		t.Fatal(err)
	}

	var got bytes.Buffer
	d, err := writeOriginalTar(context.Background(), fs, &got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), orig.Bytes()) {
		t.Fatalf("rebuilt tar differs: %d bytes, the original %d", got.Len(), orig.Len())
	}
	if want := digest.FromBytes(orig.Bytes()); d != want {
		t.Errorf("digest %s, want %s", d, want)
	}
	os.WriteFile(filepath.Join(fs, "big"), []byte("short"), 0o644)
	if _, err := writeOriginalTar(context.Background(), fs, io.Discard); err == nil {
		t.Error("a file that shrank since the pull rebuilt without an error")
	}
}
