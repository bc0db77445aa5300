package build

import (
	"context"
	"encoding/json"
	"strings"

	buildtypes "github.com/moby/moby/api/types/build"
	"github.com/opencontainers/go-digest"

	"github.com/gantry-dev/gantry/internal/store"
)

// DiskUsage is the build cache as `system df` counts it: one record per
// cached step that made a layer, sized by that layer (layerSize), and
// Shared when an image holds the same layer (a cache prune keeps those).
// Steps that only changed the config take no room and are left out.
func (b *Builder) DiskUsage(ctx context.Context, layerSize func(context.Context, digest.Digest) (int64, error)) ([]*buildtypes.CacheRecord, error) {
	type cached struct {
		key   string
		entry cacheEntry
	}
	var entries []cached
	imageLayers := map[digest.Digest]bool{}
	err := b.images.Metadata(ctx, false, func(tx *store.Tx) error {
		imgs, err := tx.Images()
		if err != nil {
			return err
		}
		for _, img := range imgs {
			for _, l := range img.Layers {
				imageLayers[l] = true
			}
		}
		return tx.ForEach(cacheBucket, func(k string, v []byte) error {
			if !strings.HasPrefix(k, "k/") {
				return nil
			}
			var e cacheEntry
			if json.Unmarshal(v, &e) == nil {
				entries = append(entries, cached{strings.TrimPrefix(k, "k/"), e})
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	// A layer is counted once, by the first step that has it on top.
	seen := map[digest.Digest]bool{}
	out := []*buildtypes.CacheRecord{}
	for _, c := range entries {
		hist := c.entry.Image.History
		if len(hist) == 0 || hist[len(hist)-1].EmptyLayer {
			continue
		}
		chains := chainIDs(c.entry.Image.RootFS.DiffIDs)
		if len(chains) == 0 {
			continue
		}
		top := chains[len(chains)-1]
		if seen[top] {
			continue
		}
		seen[top] = true
		size, err := layerSize(ctx, top)
		if err != nil {
			continue // pruned meanwhile: no longer a record
		}
		var parents []string
		if len(chains) > 1 {
			parents = []string{chains[len(chains)-2].Encoded()[:12]}
		}
		id := c.key
		if d, err := digest.Parse(c.key); err == nil {
			id = d.Encoded()[:12]
		}
		out = append(out, &buildtypes.CacheRecord{
			ID:          id,
			Parents:     parents,
			Type:        "regular",
			Description: hist[len(hist)-1].CreatedBy,
			Shared:      imageLayers[top],
			Size:        size,
			CreatedAt:   c.entry.Created,
			LastUsedAt:  &c.entry.Created,
			UsageCount:  1,
		})
	}
	return out, nil
}
