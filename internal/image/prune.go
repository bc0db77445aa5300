package image

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"

	"github.com/gantry-dev/gantry/internal/store"
)

// PruneOptions select what `image prune` removes: dangling images (no
// name), or with All every image no container uses; Until keeps images
// created after it; Labels and NotLabels ("key" or "key=value") are
// Docker's label and label! filters.
type PruneOptions struct {
	All       bool
	Until     time.Time
	Labels    []string // only images with every one of these labels
	NotLabels []string // keep images with every one of these labels
	InUse     InUse
}

// matchLabels reports whether labels hold every "key" or "key=value" of list.
func matchLabels(list []string, labels map[string]string) bool {
	for _, l := range list {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := labels[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	return true
}

// Prune removes unused images, then the layers and blobs nothing refers to.
// It returns what it deleted and the bytes reclaimed.
func (s *Service) Prune(ctx context.Context, opts PruneOptions) ([]image.DeleteResponse, int64, error) {
	unlock, err := s.lockRoot(ctx, true)
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	var victims []store.Image
	err = s.db.View(ctx, func(tx *store.Tx) error {
		images, err := tx.Images()
		if err != nil {
			return err
		}
		for _, img := range images {
			names, err := tx.NamesOf(img.ID)
			if err != nil {
				return err
			}
			if len(names) > 0 && !opts.All {
				continue
			}
			if !opts.Until.IsZero() && img.Created.After(opts.Until) {
				continue
			}
			if !matchLabels(opts.Labels, img.Labels) || (len(opts.NotLabels) > 0 && matchLabels(opts.NotLabels, img.Labels)) {
				continue
			}
			if _, used := opts.InUse.usedBy(img.ID); used {
				continue
			}
			victims = append(victims, img)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	var out []image.DeleteResponse
	var reclaimed int64
	for _, img := range victims {
		sizeBefore := s.layersSize(ctx)
		resp, err := s.remove(ctx, img.ID.String(), true, opts.InUse)
		if err != nil {
			return out, reclaimed, err
		}
		out = append(out, resp...)
		reclaimed += sizeBefore - s.layersSize(ctx)
	}
	freed, err := s.GC(ctx)
	return out, reclaimed + freed, err
}

// layersSize sums the recorded layers' sizes.
func (s *Service) layersSize(ctx context.Context) int64 {
	var total int64
	_ = s.db.View(ctx, func(tx *store.Tx) error {
		layers, err := tx.Layers()
		for _, l := range layers {
			total += l.Size
		}
		return err
	})
	return total
}

// GC deletes blobs no image or layer refers to, unpacked layers no image
// records, and ingests untouched for a day. Not to be run during a pull.
func (s *Service) GC(ctx context.Context) (int64, error) {
	keep := map[digest.Digest]bool{}
	recorded := map[digest.Digest]bool{}
	err := s.db.View(ctx, func(tx *store.Tx) error {
		images, err := tx.Images()
		if err != nil {
			return err
		}
		for _, img := range images {
			keep[img.ID] = true
			if img.ManifestDigest != "" {
				keep[img.ManifestDigest] = true
			}
		}
		layers, err := tx.Layers()
		if err != nil {
			return err
		}
		for _, l := range layers {
			recorded[l.ChainID] = true
			for _, b := range l.Blobs {
				keep[b.Digest] = true
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	removed, err := s.content.GC(ctx, func(d digest.Digest) bool { return keep[d] }, 24*time.Hour)
	if err != nil {
		return 0, err
	}
	var freed int64
	for _, b := range removed {
		freed += b.Size
	}
	onDisk, err := s.snaps.Layers(ctx)
	if err != nil {
		return freed, err
	}
	for _, l := range onDisk {
		if recorded[l] {
			continue
		}
		if dir, err := s.snaps.LayerPath(l); err == nil {
			freed += dirSize(dir)
		}
		_ = s.snaps.RemoveLayer(ctx, l)
	}
	return freed, nil
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
