package image

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A crafted archive whose manifest names a symlink to a host file must not
// get that file read into the store.
func TestLoadRefusesSymlinksOut(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: unpacking keeps file owners")
	}
	host := filepath.Join(t.TempDir(), "secret.json")
	if err := os.WriteFile(host, []byte(`{"rootfs":{"type":"layers","diff_ids":[]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "blobs/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "blobs/cfg", Typeflag: tar.TypeSymlink, Linkname: host})
	manifest := []byte(`[{"Config":"blobs/cfg","RepoTags":["stolen:1"],"Layers":[]}]`)
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(manifest))})
	tw.Write(manifest)
	tw.Close()

	ctx := context.Background()
	svc, err := Open(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	_, err = svc.Load(ctx, &buf)
	if err == nil || !strings.Contains(err.Error(), "is not a file in the archive") {
		t.Fatalf("load of an archive pointing out of itself: %v", err)
	}
	if list, _ := svc.List(ctx, ListOptions{}); len(list) != 0 {
		t.Errorf("the crafted archive left images: %v", list)
	}
}
