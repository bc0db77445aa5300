package diskusage

import (
	"context"
	"sync"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	mobyimage "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/volume"
	"github.com/opencontainers/go-digest"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/image"
)

// Report is GET /system/df's answer in the shape of API 1.51 and before
// (what the docker 28 CLI reads), with gantry's one addition: the size of
// each container's logs, which Docker leaves out.
type Report struct {
	LayersSize int64
	Images     []mobyimage.Summary
	Containers []container.Summary
	Volumes    []*volume.Volume
	BuildCache []*build.CacheRecord
	// ContainerLogsSize is the bytes of each container's log files, by ID.
	ContainerLogsSize map[string]int64 `json:",omitempty"`
}

// ContainerUsage is a container as df sees it: its summary with SizeRw
// set (SizeRootFs is added here, from its image) and its logs' size.
type ContainerUsage struct {
	Summary  container.Summary
	LogsSize int64
}

// Containers is what the container service tells df.
type Containers interface {
	DiskUsage(ctx context.Context) ([]ContainerUsage, error)
}

// Volumes is what a volume service tells df: each volume with its
// UsageData (size, containers using it).
type Volumes interface {
	DiskUsage(ctx context.Context) ([]*volume.Volume, error)
}

// BuildCache is what the builder tells df: its cache records.
type BuildCache interface {
	DiskUsage(ctx context.Context) ([]*build.CacheRecord, error)
}

// Service answers df. Volumes and BuildCache stay nil until those
// services exist; df then reports none.
type Service struct {
	Images     *image.Service
	Containers Containers
	Volumes    Volumes
	BuildCache BuildCache

	layers sync.Map // chain ID → bytes: a layer never changes once unpacked
}

// Kinds are the objects df can be asked for (its "type" parameter).
var Kinds = []string{"container", "image", "volume", "build-cache"}

// LayerSize is the bytes of one unpacked layer, measured once.
func (s *Service) LayerSize(ctx context.Context, chainID digest.Digest) (int64, error) {
	if v, ok := s.layers.Load(chainID); ok {
		return v.(int64), nil
	}
	p, err := s.Images.Snapshots().LayerPath(chainID)
	if err != nil {
		return 0, err
	}
	n, err := Dir(ctx, p)
	if err != nil {
		return 0, err
	}
	s.layers.Store(chainID, n)
	return n, nil
}

// Report measures what is asked for (every kind when kinds is empty).
func (s *Service) Report(ctx context.Context, kinds ...string) (*Report, error) {
	want := map[string]bool{}
	for _, k := range kinds {
		ok := false
		for _, known := range Kinds {
			ok = ok || k == known
		}
		if !ok {
			return nil, errdefs.Invalid("unknown object type: %s", k)
		}
		want[k] = true
	}
	all := len(want) == 0
	r := &Report{}
	var ctrs []ContainerUsage
	if all || want["container"] || want["image"] {
		var err error
		if ctrs, err = s.Containers.DiskUsage(ctx); err != nil {
			return nil, err
		}
	}
	imageSizes := map[string]int64{}
	if all || want["image"] || want["container"] {
		images, layersSize, err := s.images(ctx, ctrs)
		if err != nil {
			return nil, err
		}
		for _, img := range images {
			imageSizes[img.ID] = img.Size
		}
		if all || want["image"] {
			r.Images, r.LayersSize = images, layersSize
		}
	}
	if all || want["container"] {
		r.Containers = make([]container.Summary, 0, len(ctrs))
		for _, c := range ctrs {
			sum := c.Summary
			sum.SizeRootFs = sum.SizeRw + imageSizes[sum.ImageID]
			r.Containers = append(r.Containers, sum)
			if r.ContainerLogsSize == nil {
				r.ContainerLogsSize = map[string]int64{}
			}
			r.ContainerLogsSize[sum.ID] = c.LogsSize
		}
	}
	if (all || want["volume"]) && s.Volumes != nil {
		v, err := s.Volumes.DiskUsage(ctx)
		if err != nil {
			return nil, err
		}
		r.Volumes = v
	}
	if (all || want["build-cache"]) && s.BuildCache != nil {
		b, err := s.BuildCache.DiskUsage(ctx)
		if err != nil {
			return nil, err
		}
		r.BuildCache = b
	}
	if r.Volumes == nil && (all || want["volume"]) {
		r.Volumes = []*volume.Volume{}
	}
	if r.BuildCache == nil && (all || want["build-cache"]) {
		r.BuildCache = []*build.CacheRecord{}
	}
	return r, nil
}

// images lists the images with their size on disk, the part of it
// shared with other images, and how many containers use each; and the
// size of every unpacked layer together.
func (s *Service) images(ctx context.Context, ctrs []ContainerUsage) ([]mobyimage.Summary, int64, error) {
	list, err := s.Images.List(ctx, image.ListOptions{})
	if err != nil {
		return nil, 0, err
	}
	users := map[string]int64{}
	for _, c := range ctrs {
		users[c.Summary.ImageID]++
	}
	chains := make([][]digest.Digest, len(list))
	refs := map[digest.Digest]int{}
	for i, sum := range list {
		img, err := s.Images.Resolve(ctx, sum.ID)
		if err != nil {
			continue // removed meanwhile
		}
		chains[i] = img.Layers
		for _, l := range img.Layers {
			refs[l]++
		}
	}
	out := make([]mobyimage.Summary, 0, len(list))
	for i, sum := range list {
		sum.Size, sum.SharedSize = 0, 0
		for _, l := range chains[i] {
			n, err := s.LayerSize(ctx, l)
			if err != nil {
				return nil, 0, err
			}
			sum.Size += n
			if refs[l] > 1 {
				sum.SharedSize += n
			}
		}
		sum.Containers = users[sum.ID]
		out = append(out, sum)
	}
	layers, err := s.Images.Snapshots().Layers(ctx)
	if err != nil {
		return nil, 0, err
	}
	var total int64
	for _, l := range layers {
		n, err := s.LayerSize(ctx, l)
		if err != nil {
			continue // removed meanwhile
		}
		total += n
	}
	return out, total, nil
}

// Forget drops a removed layer's measure.
func (s *Service) Forget(chainID digest.Digest) { s.layers.Delete(chainID) }
