package image

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"

	"github.com/gantry-dev/gantry/internal/archive"
	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/registry"
	"github.com/gantry-dev/gantry/internal/snapshot"
	"github.com/gantry-dev/gantry/internal/store"
)

// NewLayer is a layer made by CommitLayer: unpacked under its chain ID and
// recorded in the metadata.
type NewLayer struct {
	ChainID digest.Digest
	DiffID  digest.Digest
	Size    int64 // uncompressed tar bytes
}

// CommitLayer turns a staged directory of files in the layers' format
// (overlay whiteouts: an upper directory, or files a builder wrote) into
// the layer on top of parent (a chain ID, "" for a base layer). The staged
// directory itself becomes the unpacked layer: nothing is extracted again.
// The layer tar is written once, to hash it for the diff ID; its gzip blob
// is made by CompressLayer, which callers run after, off their critical
// path (a push that comes first compresses it itself).
//
// When src is not st.Dir, the changes are read from src (a running
// container's upper directory, which must stay as it is) and unpacked into
// st.Dir from the same tar.
func (s *Service) CommitLayer(ctx context.Context, st *snapshot.Staged, src string, parent digest.Digest) (NewLayer, error) {
	unlock, err := s.lockRoot(ctx, false)
	if err != nil {
		return NewLayer{}, err
	}
	defer unlock()
	if src == "" {
		src = st.Dir
	}
	h := sha256.New()
	tarCounter := &countWriter{w: h}
	var out io.Writer = tarCounter
	var applied chan error
	var pw *io.PipeWriter
	if src != st.Dir {
		var pr *io.PipeReader
		pr, pw = io.Pipe()
		out = io.MultiWriter(tarCounter, pw)
		applied = make(chan error, 1)
		go func() {
			_, err := archive.Apply(ctx, st.Dir, pr, archive.ApplyOptions{})
			pr.CloseWithError(err)
			applied <- err
		}()
	}
	err = archive.Diff(ctx, src, out, archive.TarOptions{})
	if pw != nil {
		pw.CloseWithError(err)
		if aerr := <-applied; err == nil && aerr != nil {
			err = fmt.Errorf("copying the changes: %w", aerr)
		}
	}
	if err != nil {
		return NewLayer{}, err
	}
	l := NewLayer{DiffID: digest.NewDigest(digest.SHA256, h), Size: tarCounter.n}
	l.ChainID = store.ChainID(parent, l.DiffID)
	if err := st.Commit(ctx, l.ChainID, parent); err != nil {
		return NewLayer{}, err
	}
	err = s.db.Update(ctx, func(tx *store.Tx) error {
		if _, err := tx.Layer(l.ChainID); err == nil {
			return nil
		}
		return tx.PutLayer(store.Layer{ChainID: l.ChainID, DiffID: l.DiffID, Parent: parent, Size: l.Size})
	})
	return l, err
}

// CompressLayer makes and records the gzip blob of a layer (verified and
// written atomically into the content store, as a push would make it) if it
// has none yet.
func (s *Service) CompressLayer(ctx context.Context, chainID digest.Digest) error {
	unlock, err := s.lockRoot(ctx, false)
	if err != nil {
		return err
	}
	defer unlock()
	var l store.Layer
	if err := s.db.View(ctx, func(tx *store.Tx) error {
		var err error
		l, err = tx.Layer(chainID)
		return err
	}); err != nil {
		return err
	}
	_, _, err = s.compressLayers(ctx, []store.Layer{l})
	return err
}

// CreateImage stores an image config whose layers are all recorded already
// (a commit's or a build's), as the new image, and points names at it
// ("" tags are skipped). parent is the local parent image, "" for none.
// The ID is the digest of the config as given. also, when given, runs in
// the same transaction (a build's cache records).
func (s *Service) CreateImage(ctx context.Context, cfg *dockerspec.DockerOCIImage, parent digest.Digest, names []string, also ...func(*store.Tx) error) (digest.Digest, error) {
	refs := make([]registry.Reference, 0, len(names))
	for _, n := range names {
		if n == "" {
			continue
		}
		ref, err := registry.ParseReference(n)
		if err != nil {
			return "", err
		}
		if ref.Digest() != "" {
			return "", errdefs.Invalid("refusing to create a tag with a digest reference: %s", n)
		}
		refs = append(refs, ref)
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	// A rebuild that changed nothing makes the same config: when the image
	// and its names are there already, nothing is written.
	id := digest.FromBytes(data)
	same := len(also) == 0 && s.db.View(ctx, func(tx *store.Tx) error {
		if _, err := tx.Image(id); err != nil {
			return err
		}
		for _, ref := range refs {
			if got, err := tx.Resolve(ref.String()); err != nil || got != id {
				return errdefs.NotFound("name moves")
			}
		}
		return nil
	}) == nil
	if same {
		if _, err := s.content.Info(ctx, id); err == nil {
			return id, nil
		}
	}
	unlock, err := s.lockRoot(ctx, false)
	if err != nil {
		return "", err
	}
	defer unlock()
	// Every layer is recorded: storeImage reads their sizes from the store.
	return s.storeImage(ctx, data, make([]int64, len(cfg.RootFS.DiffIDs)), refs, parent, also...)
}

// LayerRecorded tells whether the layer chainID is both recorded and
// unpacked, so that a cached build step may stand on it.
func (s *Service) LayerRecorded(ctx context.Context, chainID digest.Digest) bool {
	if chainID == "" {
		return true
	}
	if !s.snaps.Exists(chainID) {
		return false
	}
	return s.db.View(ctx, func(tx *store.Tx) error {
		_, err := tx.Layer(chainID)
		return err
	}) == nil
}

// Metadata runs fn in a read-write transaction of the metadata store, for
// the builder's cache, which keeps its records there beside the images.
func (s *Service) Metadata(ctx context.Context, write bool, fn func(*store.Tx) error) error {
	if write {
		return s.db.Update(ctx, fn)
	}
	return s.db.View(ctx, fn)
}

// RemoveUnusedLayers deletes the given layers (top first) that no image
// uses, from the metadata and from disk: the builder's cache prune. It
// returns the bytes freed.
func (s *Service) RemoveUnusedLayers(ctx context.Context, layers []digest.Digest) (int64, error) {
	unlock, err := s.lockRoot(ctx, true)
	if err != nil {
		return 0, err
	}
	defer unlock()
	var freed []digest.Digest
	var size int64
	err = s.db.Update(ctx, func(tx *store.Tx) error {
		images, err := tx.Images()
		if err != nil {
			return err
		}
		used := map[digest.Digest]bool{}
		for _, img := range images {
			for _, l := range img.Layers {
				used[l] = true
			}
		}
		// A layer another remaining layer stands on stays too.
		all, err := tx.Layers()
		if err != nil {
			return err
		}
		victims := map[digest.Digest]bool{}
		for _, l := range layers {
			victims[l] = !used[l]
		}
		for changed := true; changed; {
			changed = false
			for _, l := range all {
				if l.Parent != "" && !victims[l.ChainID] && victims[l.Parent] {
					victims[l.Parent] = false
					changed = true
				}
			}
		}
		for _, l := range layers {
			if !victims[l] {
				continue
			}
			rec, err := tx.Layer(l)
			if err != nil {
				continue
			}
			if err := tx.DeleteLayer(l); err != nil {
				return err
			}
			size += rec.Size
			freed = append(freed, l)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.removeLayers(ctx, freed)
	return size, nil
}
