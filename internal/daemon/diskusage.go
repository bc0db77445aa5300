package daemon

import (
	"context"

	buildtypes "github.com/moby/moby/api/types/build"
	volumetypes "github.com/moby/moby/api/types/volume"

	"github.com/gantry-dev/gantry/internal/build"
	"github.com/gantry-dev/gantry/internal/engine/diskusage"
	"github.com/gantry-dev/gantry/internal/volume"
)

// volumeUsage tells `system df` about the volumes, in the shape its
// report takes.
type volumeUsage struct{ s *volume.Service }

func (v volumeUsage) DiskUsage(ctx context.Context) ([]*volumetypes.Volume, error) {
	vols, err := v.s.Usage(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*volumetypes.Volume, len(vols))
	for i := range vols {
		out[i] = &vols[i]
	}
	return out, nil
}

// buildCacheUsage tells `system df` about the build cache, its layers
// measured as the images' are.
type buildCacheUsage struct {
	b  *build.Builder
	du *diskusage.Service
}

func (u buildCacheUsage) DiskUsage(ctx context.Context) ([]*buildtypes.CacheRecord, error) {
	return u.b.DiskUsage(ctx, u.du.LayerSize)
}
