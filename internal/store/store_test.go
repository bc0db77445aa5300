package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

func openDB(t testing.TB) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "gantry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// chain builds the layers of an image from diff IDs made of the seeds.
func chain(seeds ...string) []Layer {
	var out []Layer
	var parent digest.Digest
	for i, s := range seeds {
		diff := digest.FromString("diff " + s)
		l := Layer{ChainID: ChainID(parent, diff), DiffID: diff, Parent: parent, Size: int64(1000 * (i + 1))}
		out = append(out, l)
		parent = l.ChainID
	}
	return out
}

func imageOf(seed string, layers []Layer) Image {
	img := Image{
		ID:                digest.FromString("config " + seed),
		ManifestDigest:    digest.FromString("manifest " + seed),
		ManifestMediaType: ocispec.MediaTypeImageManifest,
		Created:           time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		Platform:          ocispec.Platform{OS: "linux", Architecture: "amd64"},
		RepoDigests:       []string{"docker.io/library/" + seed + "@" + digest.FromString("manifest "+seed).String()},
		Labels:            map[string]string{"org.opencontainers.image.title": seed},
		LastUsed:          time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, l := range layers {
		img.Layers = append(img.Layers, l.ChainID)
		img.DiffIDs = append(img.DiffIDs, l.DiffID)
		img.Size += l.Size
	}
	return img
}

// putAll stores layers and images in one transaction.
func putAll(t testing.TB, db *DB, layers []Layer, imgs ...Image) {
	t.Helper()
	err := db.Update(context.Background(), func(tx *Tx) error {
		for _, l := range layers {
			if err := tx.PutLayer(l); err != nil {
				return err
			}
		}
		for _, img := range imgs {
			if err := tx.PutImage(img); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestImagesAndNames(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	layers := chain("a", "b", "c")
	busybox := imageOf("busybox", layers[:2])
	alpine := imageOf("alpine", layers)
	putAll(t, db, layers, busybox, alpine)

	names := map[string]digest.Digest{
		"docker.io/library/busybox:latest":                           busybox.ID,
		"docker.io/library/busybox:1.36":                             busybox.ID,
		"docker.io/library/alpine:3":                                 alpine.ID,
		"docker.io/library/alpine@" + alpine.ManifestDigest.String(): alpine.ID,
	}
	err := db.Update(ctx, func(tx *Tx) error {
		for n, id := range names {
			if err := tx.SetName(n, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Reopen: everything must come back from the file.
	path := db.Path()
	db.Close()
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	err = db.View(ctx, func(tx *Tx) error {
		got, err := tx.Image(busybox.ID)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(busybox, got); diff != "" {
			t.Errorf("Image (-want +got):\n%s", diff)
		}
		all, err := tx.Images()
		if err != nil {
			return err
		}
		want := []Image{busybox, alpine}
		sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID })
		if diff := cmp.Diff(want, all); diff != "" {
			t.Errorf("Images (-want +got):\n%s", diff)
		}
		gotNames, err := tx.Names()
		if err != nil {
			return err
		}
		if diff := cmp.Diff(names, gotNames); diff != "" {
			t.Errorf("Names (-want +got):\n%s", diff)
		}
		of, err := tx.NamesOf(busybox.ID)
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]string{"docker.io/library/busybox:1.36", "docker.io/library/busybox:latest"}, of); diff != "" {
			t.Errorf("NamesOf (-want +got):\n%s", diff)
		}
		id, err := tx.Resolve("docker.io/library/alpine:3")
		if err != nil || id != alpine.ID {
			t.Errorf("Resolve = %s, %v", id, err)
		}
		gotLayers, err := tx.Layers()
		if err != nil {
			return err
		}
		sort.Slice(layers, func(i, j int) bool { return layers[i].ChainID < layers[j].ChainID })
		if diff := cmp.Diff(layers, gotLayers); diff != "" {
			t.Errorf("Layers (-want +got):\n%s", diff)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Moving a tag, deleting a name, deleting an image with its names.
	err = db.Update(ctx, func(tx *Tx) error {
		if err := tx.SetName("docker.io/library/busybox:latest", alpine.ID); err != nil {
			return err
		}
		if err := tx.DeleteName("docker.io/library/busybox:1.36"); err != nil {
			return err
		}
		return tx.DeleteImage(alpine.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.View(ctx, func(tx *Tx) error {
		got, _ := tx.Names()
		if len(got) != 0 {
			t.Errorf("names left after deleting their images: %v", got)
		}
		if _, err := tx.Image(busybox.ID); err != nil {
			t.Errorf("untagged image went too: %v", err)
		}
		return nil
	})
}

func TestNotFound(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	missing := digest.FromString("missing")
	tests := []struct {
		name string
		fn   func(tx *Tx) error
		msg  string
	}{
		{"Image", func(tx *Tx) error { _, err := tx.Image(missing); return err }, "no such image: " + missing.String()},
		{"Resolve", func(tx *Tx) error { _, err := tx.Resolve("docker.io/library/x:1"); return err }, "no such image: docker.io/library/x:1"},
		{"Layer", func(tx *Tx) error { _, err := tx.Layer(missing); return err }, "layer " + missing.String() + " not found"},
		{"DeleteImage", func(tx *Tx) error { return tx.DeleteImage(missing) }, "no such image: " + missing.String()},
		{"DeleteName", func(tx *Tx) error { return tx.DeleteName("docker.io/library/x:1") }, "no such image: docker.io/library/x:1"},
		{"DeleteLayer", func(tx *Tx) error { return tx.DeleteLayer(missing) }, "layer " + missing.String() + " not found"},
		{"AddBlobSource", func(tx *Tx) error { return tx.AddBlobSource(missing, Blob{Digest: missing}) }, "layer " + missing.String() + " not found"},
		{"Get", func(tx *Tx) error { _, err := tx.Get("cache", "k"); return err }, "kv cache/k not found"},
		{"kv Delete", func(tx *Tx) error { return tx.Delete("cache", "k") }, "kv cache/k not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.Update(ctx, tt.fn)
			if !errors.Is(err, errdefs.ErrNotFound) {
				t.Fatalf("error %v, want ErrNotFound", err)
			}
			if err.Error() != tt.msg {
				t.Errorf("error %q, want %q", err, tt.msg)
			}
		})
	}
}

func TestPutRefusesInconsistency(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	layers := chain("a", "b")
	putAll(t, db, layers[:1])
	good := imageOf("x", layers[:1])
	putAll(t, db, nil, good)

	missingLayer := imageOf("y", layers) // layers[1] is not stored
	wrongChain := imageOf("z", layers[:1])
	wrongChain.DiffIDs[0] = digest.FromString("other")
	short := imageOf("w", layers[:1])
	short.DiffIDs = nil
	badLayer := layers[1]
	badLayer.ChainID = digest.FromString("not the chain")
	orphan := chain("q", "r")[1]

	tests := []struct {
		name  string
		fn    func(tx *Tx) error
		class error
	}{
		{"image with missing layer", func(tx *Tx) error { return tx.PutImage(missingLayer) }, errdefs.ErrNotFound},
		{"image with wrong chain", func(tx *Tx) error { return tx.PutImage(wrongChain) }, errdefs.ErrInvalid},
		{"image without diff IDs", func(tx *Tx) error { return tx.PutImage(short) }, errdefs.ErrInvalid},
		{"image without ID", func(tx *Tx) error { return tx.PutImage(Image{}) }, errdefs.ErrInvalid},
		{"layer with wrong chain", func(tx *Tx) error { return tx.PutLayer(badLayer) }, errdefs.ErrInvalid},
		{"layer with missing parent", func(tx *Tx) error { return tx.PutLayer(orphan) }, errdefs.ErrNotFound},
		{"layer with bad blob", func(tx *Tx) error {
			l := layers[0]
			l.Blobs = []Blob{{Digest: "sha256:zz"}}
			return tx.PutLayer(l)
		}, errdefs.ErrInvalid},
		{"short name", func(tx *Tx) error { return tx.SetName("busybox", good.ID) }, errdefs.ErrInvalid},
		{"unnormalized name", func(tx *Tx) error { return tx.SetName("library/busybox:latest", good.ID) }, errdefs.ErrInvalid},
		{"name without tag", func(tx *Tx) error { return tx.SetName("docker.io/library/busybox", good.ID) }, errdefs.ErrInvalid},
		{"name of missing image", func(tx *Tx) error {
			return tx.SetName("docker.io/library/busybox:latest", digest.FromString("nope"))
		}, errdefs.ErrNotFound},
		{"empty kv bucket", func(tx *Tx) error { return tx.Put("", "k", nil) }, errdefs.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := db.Update(ctx, tt.fn); !errors.Is(err, tt.class) {
				t.Errorf("error %v, want class %v", err, tt.class)
			}
		})
	}
}

func TestAddBlobSource(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	l := chain("a")[0]
	gz := digest.FromString("gzip form")
	zst := digest.FromString("zstd form")
	l.Blobs = []Blob{{Digest: gz, MediaType: ocispec.MediaTypeImageLayerGzip, Size: 100, Sources: []string{"docker.io/library/busybox"}}}
	putAll(t, db, []Layer{l})

	err := db.Update(ctx, func(tx *Tx) error {
		for _, b := range []Blob{
			{Digest: gz, Sources: []string{"127.0.0.1:5000/bench/pyapp"}},
			{Digest: gz, Sources: []string{"docker.io/library/busybox"}}, // known already
			{Digest: zst, MediaType: ocispec.MediaTypeImageLayerZstd, Size: 80, Sources: []string{"127.0.0.1:5000/x"}},
		} {
			if err := tx.AddBlobSource(l.ChainID, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Blob{
		{Digest: gz, MediaType: ocispec.MediaTypeImageLayerGzip, Size: 100, Sources: []string{"127.0.0.1:5000/bench/pyapp", "docker.io/library/busybox"}},
		{Digest: zst, MediaType: ocispec.MediaTypeImageLayerZstd, Size: 80, Sources: []string{"127.0.0.1:5000/x"}},
	}
	db.View(ctx, func(tx *Tx) error {
		got, err := tx.Layer(l.ChainID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got.Blobs); diff != "" {
			t.Errorf("Blobs (-want +got):\n%s", diff)
		}
		return nil
	})
}

func TestKV(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	err := db.Update(ctx, func(tx *Tx) error {
		for _, k := range []string{"b", "a", "c"} {
			if err := tx.Put("buildcache", k, []byte("value "+k)); err != nil {
				return err
			}
		}
		return tx.Put("other", "a", []byte("elsewhere"))
	})
	if err != nil {
		t.Fatal(err)
	}
	var kept []byte
	db.View(ctx, func(tx *Tx) error {
		v, err := tx.Get("buildcache", "a")
		if err != nil || string(v) != "value a" {
			t.Errorf("Get = %q, %v", v, err)
		}
		kept = v
		var keys []string
		tx.ForEach("buildcache", func(k string, v []byte) error {
			keys = append(keys, k+"="+string(v))
			return nil
		})
		if diff := cmp.Diff([]string{"a=value a", "b=value b", "c=value c"}, keys); diff != "" {
			t.Errorf("ForEach (-want +got):\n%s", diff)
		}
		if err := tx.ForEach("none", func(string, []byte) error { return errors.New("called") }); err != nil {
			t.Errorf("ForEach on a missing bucket: %v", err)
		}
		stop := errors.New("stop")
		if err := tx.ForEach("buildcache", func(string, []byte) error { return stop }); !errors.Is(err, stop) {
			t.Errorf("ForEach error not returned: %v", err)
		}
		return nil
	})
	// Values outlive their transaction.
	db.Update(ctx, func(tx *Tx) error { return tx.Put("buildcache", "a", []byte("changed")) })
	if string(kept) != "value a" {
		t.Errorf("value read earlier changed to %q", kept)
	}
	if err := db.Update(ctx, func(tx *Tx) error { return tx.Delete("buildcache", "a") }); err != nil {
		t.Fatal(err)
	}
	db.View(ctx, func(tx *Tx) error {
		if _, err := tx.Get("buildcache", "a"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Get after Delete: %v", err)
		}
		return nil
	})
}

// TestUpdateAtomic: an Update whose fn fails changes nothing, not even the
// steps that succeeded before the failure.
func TestUpdateAtomic(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	before := imageOf("before", nil)
	putAll(t, db, nil, before)
	layers := chain("a", "b")
	img := imageOf("new", layers)
	boom := errors.New("boom")
	err := db.Update(ctx, func(tx *Tx) error {
		for _, l := range layers {
			if err := tx.PutLayer(l); err != nil {
				return err
			}
		}
		if err := tx.PutImage(img); err != nil {
			return err
		}
		if err := tx.SetName("docker.io/library/new:1", img.ID); err != nil {
			return err
		}
		if err := tx.DeleteImage(before.ID); err != nil {
			return err
		}
		if err := tx.Put("kv", "k", []byte("v")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the fn's error", err)
	}
	db.View(ctx, func(tx *Tx) error {
		imgs, _ := tx.Images()
		if diff := cmp.Diff([]Image{before}, imgs); diff != "" {
			t.Errorf("images after a failed Update (-want +got):\n%s", diff)
		}
		ls, _ := tx.Layers()
		names, _ := tx.Names()
		_, kvErr := tx.Get("kv", "k")
		if len(ls) != 0 || len(names) != 0 || kvErr == nil {
			t.Errorf("failed Update left layers %v names %v kv %v", ls, names, kvErr)
		}
		return nil
	})
}

func TestViewIsReadOnly(t *testing.T) {
	db := openDB(t)
	err := db.View(context.Background(), func(tx *Tx) error { return tx.PutImage(imageOf("x", nil)) })
	if err == nil {
		t.Fatal("PutImage in View succeeded")
	}
}

func TestCancelledContext(t *testing.T) {
	db := openDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	fn := func(*Tx) error { called = true; return nil }
	if err := db.View(ctx, fn); !errors.Is(err, context.Canceled) {
		t.Errorf("View: %v", err)
	}
	if err := db.Update(ctx, fn); !errors.Is(err, context.Canceled) {
		t.Errorf("Update: %v", err)
	}
	if called {
		t.Error("fn ran under a cancelled context")
	}
}

func TestSecondOpenUnavailable(t *testing.T) {
	db := openDB(t)
	start := time.Now()
	_, err := OpenWith(db.Path(), Options{LockTimeout: 200 * time.Millisecond})
	elapsed := time.Since(start)
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("second Open: %v, want ErrUnavailable", err)
	}
	if want := "another gantry holds " + db.Path(); err.Error() != want {
		t.Errorf("second Open: %q, want %q", err, want)
	}
	if elapsed < 150*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("second Open gave up after %v, want about the 200ms timeout", elapsed)
	}
	db.Close()
	db2, err := Open(db.Path())
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	db2.Close()
}

// writeSchemaVersion sets the stored schema version behind the package's back.
func writeSchemaVersion(t *testing.T, path string, v int) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists([]byte(metaBucket))
		if err != nil {
			return err
		}
		raw, _ := json.Marshal(v)
		return meta.Put([]byte(schemaKey), raw)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gantry.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	writeSchemaVersion(t, path, 3)
	_, err = Open(path)
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("Open of a newer schema: %v, want ErrUnavailable", err)
	}
	if want := "metadata schema v3 is newer than this gantry (v1): upgrade gantry"; err.Error() != want {
		t.Errorf("Open of a newer schema: %q, want %q", err, want)
	}
	// The refusal must not have touched the file or kept it locked.
	writeSchemaVersion(t, path, 3)
}

// TestMigration runs the migration machinery with a made-up v2 on top of
// the real v1: data written by v1 survives, the version is recorded, and the
// v1 code then refuses the file.
func TestMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gantry.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	layers := chain("a")
	putAll(t, db, layers, imageOf("x", layers))
	db.Close()

	v2 := currentSchema()
	v2.version = 2
	ran := 0
	v2.migrate = append(v2.migrate, func(tx *bolt.Tx) error {
		ran++
		kv := tx.Bucket([]byte(v1Bucket)).Bucket([]byte(kvBucket))
		b, err := kv.CreateBucketIfNotExists([]byte("migrations"))
		if err != nil {
			return err
		}
		return b.Put([]byte("v2"), []byte("done"))
	})
	for range 2 { // the second open finds v2 and migrates nothing
		db, err = open(path, Options{}, v2)
		if err != nil {
			t.Fatal(err)
		}
		db.View(ctx, func(tx *Tx) error {
			imgs, err := tx.Images()
			if err != nil || len(imgs) != 1 {
				t.Errorf("images after migration: %v %v", imgs, err)
			}
			if v, err := tx.Get("migrations", "v2"); err != nil || string(v) != "done" {
				t.Errorf("migration step did not run: %q %v", v, err)
			}
			return nil
		})
		db.Close()
	}
	if ran != 1 {
		t.Errorf("migration ran %d times, want 1", ran)
	}
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "schema v2 is newer") {
		t.Errorf("v1 opening v2: %v", err)
	}

	t.Run("failed migration changes nothing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "gantry.db")
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		bad := currentSchema()
		bad.version = 2
		bad.migrate = append(bad.migrate, func(tx *bolt.Tx) error {
			tx.DeleteBucket([]byte(v1Bucket))
			return errors.New("half way")
		})
		if _, err := open(path, Options{}, bad); err == nil || !strings.Contains(err.Error(), "migrate schema v1 to v2: half way") {
			t.Fatalf("failed migration: %v", err)
		}
		db, err = Open(path)
		if err != nil {
			t.Fatalf("v1 after a failed migration: %v", err)
		}
		db.Close()
	})
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	layers := chain("a", "b", "c")
	okImg := imageOf("ok", layers[:1])
	brokenImg := imageOf("broken", layers)
	putAll(t, db, layers, okImg, brokenImg)
	err := db.Update(ctx, func(tx *Tx) error {
		if err := tx.SetName("docker.io/library/ok:1", okImg.ID); err != nil {
			return err
		}
		if err := tx.SetName("docker.io/library/broken:1", brokenImg.ID); err != nil {
			return err
		}
		// What careless deletes and old bugs leave behind:
		if err := tx.DeleteLayer(layers[1].ChainID); err != nil { // c's parent, and part of broken
			return err
		}
		if err := tx.names.Put([]byte("docker.io/library/gone:1"), []byte(digest.FromString("gone"))); err != nil {
			return err
		}
		return tx.images.Put([]byte(digest.FromString("garbage")), []byte("{not json"))
	})
	if err != nil {
		t.Fatal(err)
	}
	garbage := digest.FromString("garbage")
	want := []string{
		"layer " + layers[2].ChainID.String() + ": parent layer " + layers[1].ChainID.String() + " is missing",
		"image " + brokenImg.ID.String() + " references missing layer " + layers[1].ChainID.String(),
		"image " + garbage.String() + ": undecodable record: invalid character 'n' looking for beginning of object key string",
		"name docker.io/library/gone:1 points to missing image " + digest.FromString("gone").String(),
	}
	sort.Strings(want)
	got, err := db.Check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}

	got, err = db.Check(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	wantRepair := []string{
		want[0] + " (removed)", // sorted: image broken, image garbage, layer, name
		want[1] + " (removed)",
		want[2],
		want[3] + " (removed)",
		"name docker.io/library/broken:1 points to broken image " + brokenImg.ID.String() + " (removed)",
	}
	sort.Strings(wantRepair)
	if diff := cmp.Diff(wantRepair, got); diff != "" {
		t.Errorf("Check repair (-want +got):\n%s", diff)
	}

	// Only the layer problem is left: it is reported, not repaired.
	got, err = db.Check(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{want[2]}, got); diff != "" {
		t.Errorf("Check after repair (-want +got):\n%s", diff)
	}
	db.View(ctx, func(tx *Tx) error {
		names, _ := tx.Names()
		if diff := cmp.Diff(map[string]digest.Digest{"docker.io/library/ok:1": okImg.ID}, names); diff != "" {
			t.Errorf("names after repair (-want +got):\n%s", diff)
		}
		return nil
	})
}

func TestChainID(t *testing.T) {
	// The image spec's definition: ChainID(L0) = DiffID(L0),
	// ChainID(L0|L1) = sha256(ChainID(L0) + " " + DiffID(L1)).
	a := digest.FromString("a")
	if ChainID("", a) != a {
		t.Error("base layer chain ID must be its diff ID")
	}
	b := digest.FromString("b")
	if want := digest.FromString(a.String() + " " + b.String()); ChainID(a, b) != want {
		t.Errorf("ChainID = %s, want %s", ChainID(a, b), want)
	}
}

// BenchmarkImages lists 100 images of 8 layers each, what `images` does.
func BenchmarkImages(b *testing.B) {
	ctx := context.Background()
	db := openDB(b)
	var all []Layer
	var imgs []Image
	for i := range 100 {
		var seeds []string
		for j := range 8 {
			seeds = append(seeds, fmt.Sprintf("%d-%d", i, j))
		}
		layers := chain(seeds...)
		all = append(all, layers...)
		imgs = append(imgs, imageOf(fmt.Sprint("image", i), layers))
	}
	putAll(b, db, all, imgs...)
	list := func(b *testing.B) {
		err := db.View(ctx, func(tx *Tx) error {
			got, err := tx.Images()
			if len(got) != 100 {
				b.Fatalf("%d images", len(got))
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			list(b)
		}
	})
	// What the first listing after a start costs: every record decoded.
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			db.images.mu.Lock()
			db.images.m = nil
			db.images.mu.Unlock()
			list(b)
		}
	})
}
