package daemon

import (
	"context"

	volumetypes "github.com/moby/moby/api/types/volume"

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
