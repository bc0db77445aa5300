package store

import (
	"context"
	"path/filepath"
	"testing"
)

// A cache shared between opens keeps its decoded images after Close, and is
// never stale: an image changed by an open that does not share it (another
// process) is listed as it is now.
func TestImageCacheSharedBetweenOpens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gantry.db")
	var cache ImageCache
	list := func(o Options) []Image {
		t.Helper()
		db, err := OpenWith(path, o)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var imgs []Image
		if err := db.View(ctx, func(tx *Tx) error { imgs, err = tx.Images(); return err }); err != nil {
			t.Fatal(err)
		}
		return imgs
	}
	db, err := OpenWith(path, Options{ImageCache: &cache})
	if err != nil {
		t.Fatal(err)
	}
	a, b := imageOf("a", nil), imageOf("b", nil)
	putAll(t, db, nil, a, b)
	db.Close()

	if got := list(Options{ImageCache: &cache}); len(got) != 2 {
		t.Fatalf("listed %d images, want 2", len(got))
	}
	if len(cache.m) != 2 {
		t.Errorf("the shared cache holds %d images after the listing's Close, want 2", len(cache.m))
	}

	// Another process relabels a and deletes b.
	other, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a.Labels = map[string]string{"changed": "yes"}
	putAll(t, other, nil, a)
	if err := other.Update(ctx, func(tx *Tx) error { return tx.DeleteImage(b.ID) }); err != nil {
		t.Fatal(err)
	}
	other.Close()

	got := list(Options{ImageCache: &cache})
	if len(got) != 1 || got[0].ID != a.ID || got[0].Labels["changed"] != "yes" {
		t.Errorf("after another open changed the store, listed %+v", got)
	}
	if len(cache.m) != 1 {
		t.Errorf("the cache keeps %d images, want only a", len(cache.m))
	}
}
