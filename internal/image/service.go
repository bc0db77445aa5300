// Package image is the image service: pull, push, list, tag, remove,
// inspect, history, import. It ties together the registry client, the
// content store (manifests, configs, compressed layers made for pushes), the
// snapshotter (unpacked layers) and the metadata store (names and images).
package image

import (
	"context"
	"path/filepath"
	"runtime"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gantry-dev/gantry/internal/content"
	"github.com/gantry-dev/gantry/internal/registry"
	"github.com/gantry-dev/gantry/internal/snapshot"
	"github.com/gantry-dev/gantry/internal/store"
)

// Service holds the image side of one data root.
type Service struct {
	root     string
	content  *content.Store
	db       *metadata
	snaps    *snapshot.Snapshotter
	registry *registry.Client
	opts     Options
}

// Options configure a Service.
type Options struct {
	// MaxConcurrentDownloads bounds parallel layer downloads (Docker: 3).
	MaxConcurrentDownloads int
	// MaxConcurrentUploads bounds parallel layer uploads (Docker: 5).
	MaxConcurrentUploads int
	Registry             registry.Options
	// MetadataLinger keeps the metadata store open (and locked against
	// other processes) this long after its last transaction, as a daemon
	// does; zero closes it at once.
	MetadataLinger time.Duration
}

// Open opens (creating) the image stores under root: content/, snapshots/
// and gantry.db.
func Open(ctx context.Context, root string, opts Options) (*Service, error) {
	if opts.MaxConcurrentDownloads <= 0 {
		opts.MaxConcurrentDownloads = 3
	}
	if opts.MaxConcurrentUploads <= 0 {
		opts.MaxConcurrentUploads = 5
	}
	cs, err := content.Open(filepath.Join(root, "content"))
	if err != nil {
		return nil, err
	}
	snaps, err := snapshot.New(filepath.Join(root, "snapshots"))
	if err != nil {
		return nil, err
	}
	db := &metadata{path: filepath.Join(root, "gantry.db"), linger: opts.MetadataLinger}
	// Open once now: a bad or newer store is reported before any work.
	if err := db.View(ctx, func(*store.Tx) error { return nil }); err != nil {
		snaps.Close()
		return nil, err
	}
	return &Service{
		root:     root,
		content:  cs,
		db:       db,
		snaps:    snaps,
		registry: registry.NewClient(opts.Registry),
		opts:     opts,
	}, nil
}

// Close releases the metadata store and this process's staging.
func (s *Service) Close() error {
	err := s.db.Close()
	if serr := s.snaps.Close(); err == nil {
		err = serr
	}
	return err
}

// Snapshots is the snapshotter, for the container service to make rootfs
// mounts from an image's top layer.
func (s *Service) Snapshots() *snapshot.Snapshotter { return s.snaps }

// Registry is the registry client (login and logout use it directly).
func (s *Service) Registry() *registry.Client { return s.registry }

// chainIDs computes the chain IDs of a layer stack from its diff IDs.
func chainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		out[i] = digest.FromString(out[i-1].String() + " " + d.String())
	}
	return out
}

// hostPlatform is the platform images are pulled for by default.
func hostPlatform() ocispec.Platform {
	p := ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm64" {
		p.Variant = "v8"
	}
	return p
}
