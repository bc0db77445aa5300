package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/gantry-dev/gantry/internal/archive"
	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/registry"
	"github.com/gantry-dev/gantry/internal/store"
)

// Docker's media types, which `docker push` writes and every registry takes.
const (
	mediaTypeManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeConfig   = "application/vnd.docker.container.image.v1+json"
	mediaTypeLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// PushOptions tune a push.
type PushOptions struct {
	Progress ProgressFunc
	// Credentials, when set, replace the registry client's own (the
	// daemon's request's X-Registry-Auth).
	Credentials *registry.Credentials
}

// PushResult says what was pushed.
type PushResult struct {
	Ref    registry.Reference
	Digest digest.Digest
	Size   int // manifest size, as Docker prints it
}

// Push uploads an image. Layers the registry has are not sent, layers in
// another repository of the same registry are mounted, the rest are sent in
// parallel. A layer is compressed once: its compressed form is kept and
// remembered, so the next push of it does no work. An image pulled from the
// same registry keeps its manifest and so its digest.
func (s *Service) Push(ctx context.Context, name string, opts PushOptions) (*PushResult, error) {
	ref, err := registry.ParseReference(name)
	if err != nil {
		return nil, err
	}
	if opts.Credentials != nil {
		ctx = registry.WithRequestCredentials(ctx, *opts.Credentials)
	}
	res, err := s.push(ctx, ref, opts)
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", ref.Familiar(), err)
	}
	return res, nil
}

func (s *Service) push(ctx context.Context, ref registry.Reference, opts PushOptions) (*PushResult, error) {
	img, layers, err := s.imageLayers(ctx, ref.String())
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, errdefs.NotFound("An image does not exist locally with the tag: %s", ref.FamiliarName())
	}
	if err != nil {
		return nil, err
	}
	progress := opts.Progress
	progress.send(Progress{Status: "The push refers to repository [" + ref.FamiliarName() + "]"})

	configID := img.ID
	manifest, mediaType, blobs, err := s.reuseManifest(ctx, ref, img, layers)
	if err != nil {
		return nil, err
	}
	var cfgData []byte
	if manifest == nil {
		var diffIDs []digest.Digest
		if blobs, diffIDs, err = s.compressLayers(ctx, layers); err != nil {
			return nil, err
		}
		if configID, cfgData, err = s.configFor(ctx, img, diffIDs); err != nil {
			return nil, err
		}
		if manifest, err = buildManifest(configID, int64(len(cfgData)), blobs); err != nil {
			return nil, err
		}
		mediaType = mediaTypeManifest
	} else if cfgData, err = s.content.ReadAll(ctx, img.ID); err != nil {
		return nil, err
	}
	req := registry.PushRequest{
		Ref:       ref,
		Manifest:  manifest,
		MediaType: mediaType,
		Jobs:      s.opts.MaxConcurrentUploads,
		Config: registry.PushBlob{
			Desc: ocispec.Descriptor{MediaType: mediaTypeConfig, Digest: configID, Size: int64(len(cfgData))},
			Open: func(ctx context.Context) (io.ReadCloser, error) { return s.content.Open(ctx, configID) },
		},
		Progress: func(e registry.ProgressEvent) {
			if e.Digest == configID {
				return // Docker does not show the config
			}
			progress.send(Progress{ID: shortID(e.Digest), Status: e.Action, Current: e.Current, Total: e.Total})
		},
	}
	for _, b := range blobs {
		req.Layers = append(req.Layers, registry.PushBlob{
			Desc:    ocispec.Descriptor{MediaType: b.MediaType, Digest: b.Digest, Size: b.Size},
			Sources: b.Sources,
			Open:    func(ctx context.Context) (io.ReadCloser, error) { return s.content.Open(ctx, b.Digest) },
		})
	}
	dgst, err := s.registry.Push(ctx, req)
	if err != nil {
		return nil, err
	}
	if _, err := s.content.Ingest(ctx, "manifest-"+dgst.String(), dgst, int64(len(manifest)), strings.NewReader(string(manifest))); err != nil {
		return nil, err
	}
	err = s.db.Update(ctx, func(tx *store.Tx) error {
		for i, b := range blobs {
			b.Sources = []string{ref.Name()}
			if err := tx.AddBlobSource(layers[i].ChainID, b); err != nil {
				return err
			}
		}
		if configID != img.ID {
			return nil // the registry holds an image with rewritten diff IDs, not this one
		}
		cur, err := tx.Image(img.ID)
		if err != nil {
			return err
		}
		cur.RepoDigests = addUnique(cur.RepoDigests, ref.Name()+"@"+dgst.String())
		if cur.ManifestDigest == "" {
			cur.ManifestDigest, cur.ManifestMediaType = dgst, mediaType
		}
		return tx.PutImage(cur)
	})
	if err != nil {
		return nil, err
	}
	return &PushResult{Ref: ref, Digest: dgst, Size: len(manifest)}, nil
}

// reuseManifest returns the image's original manifest when every layer blob
// it names is known to be in a repository of the target registry (so it can
// be mounted or is already there): pushing it back keeps the digest.
func (s *Service) reuseManifest(ctx context.Context, ref registry.Reference, img store.Image, layers []store.Layer) ([]byte, string, []store.Blob, error) {
	if img.ManifestDigest == "" {
		return nil, "", nil, nil
	}
	data, err := s.content.ReadAll(ctx, img.ManifestDigest)
	if err != nil {
		return nil, "", nil, nil
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil || len(m.Layers) != len(layers) {
		return nil, "", nil, nil
	}
	var blobs []store.Blob
	for i, desc := range m.Layers {
		b, ok := findBlob(layers[i], desc.Digest)
		if !ok || !onRegistry(b, ref.Domain()) {
			if _, err := s.content.Info(ctx, desc.Digest); err != nil {
				return nil, "", nil, nil
			}
		}
		if !ok {
			b = store.Blob{Digest: desc.Digest, MediaType: desc.MediaType, Size: desc.Size}
		}
		blobs = append(blobs, b)
	}
	return data, img.ManifestMediaType, blobs, nil
}

func findBlob(l store.Layer, d digest.Digest) (store.Blob, bool) {
	for _, b := range l.Blobs {
		if b.Digest == d {
			return b, true
		}
	}
	return store.Blob{}, false
}

func onRegistry(b store.Blob, domain string) bool {
	for _, src := range b.Sources {
		if strings.HasPrefix(src, domain+"/") {
			return true
		}
	}
	return false
}

// blobDiffIDs is the metadata bucket that remembers the uncompressed digest
// of a blob gantry compressed itself: for a pulled layer it differs from the
// layer's diff ID, since the unpacked files do not give back the original
// tar byte for byte.
const blobDiffIDs = "blob-diffids"

// compressLayers returns a gzip blob for every layer, and the digest of its
// uncompressed content: a blob made earlier and kept in the content store,
// or one made now from the unpacked layer.
func (s *Service) compressLayers(ctx context.Context, layers []store.Layer) ([]store.Blob, []digest.Digest, error) {
	blobs := make([]store.Blob, len(layers))
	diffIDs := make([]digest.Digest, len(layers))
	err := s.db.View(ctx, func(tx *store.Tx) error {
		for i, l := range layers {
			for _, b := range l.Blobs {
				if b.MediaType != mediaTypeLayer {
					continue
				}
				if _, err := s.content.Info(ctx, b.Digest); err != nil {
					continue
				}
				blobs[i], diffIDs[i] = b, l.DiffID
				if v, err := tx.Get(blobDiffIDs, b.Digest.String()); err == nil {
					diffIDs[i] = digest.Digest(v)
				}
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for i, l := range layers {
		if blobs[i].Digest != "" {
			continue
		}
		g.Go(func() error {
			b, diffID, err := s.compressLayer(gctx, l)
			if err != nil {
				return err
			}
			blobs[i], diffIDs[i] = b, diffID
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	// Remember the compressed forms now, so a failed upload does not
	// compress again.
	err = s.db.Update(ctx, func(tx *store.Tx) error {
		for i, b := range blobs {
			if err := tx.AddBlobSource(layers[i].ChainID, store.Blob{Digest: b.Digest, MediaType: b.MediaType, Size: b.Size}); err != nil {
				return err
			}
			if err := tx.Put(blobDiffIDs, b.Digest.String(), []byte(diffIDs[i])); err != nil {
				return err
			}
		}
		return nil
	})
	return blobs, diffIDs, err
}

// compressLayer writes a layer as a gzip tar into the content store and
// returns it with the digest of the tar.
func (s *Service) compressLayer(ctx context.Context, l store.Layer) (store.Blob, digest.Digest, error) {
	dir, err := s.snaps.LayerPath(l.ChainID)
	if err != nil {
		return store.Blob{}, "", err
	}
	w, err := s.content.Writer(ctx, "push-"+l.ChainID.String(), "", -1)
	if err != nil {
		return store.Blob{}, "", err
	}
	counter := &countWriter{w: w}
	zw, err := archive.Compress(counter, archive.Gzip)
	if err != nil {
		w.Discard()
		return store.Blob{}, "", err
	}
	diffID, err := layerTar(ctx, dir, l.DiffID, zw)
	if err != nil {
		zw.Close()
		w.Discard()
		return store.Blob{}, "", err
	}
	if err := zw.Close(); err != nil {
		w.Discard()
		return store.Blob{}, "", err
	}
	d, err := w.Commit(ctx)
	if err != nil {
		return store.Blob{}, "", err
	}
	return store.Blob{Digest: d, MediaType: mediaTypeLayer, Size: counter.n}, diffID, nil
}

// configFor returns the config to push with layers whose uncompressed
// digests are diffIDs: the image's own, or a copy naming the new diff IDs.
func (s *Service) configFor(ctx context.Context, img store.Image, diffIDs []digest.Digest) (digest.Digest, []byte, error) {
	data, err := s.content.ReadAll(ctx, img.ID)
	if err != nil {
		return "", nil, err
	}
	same := len(diffIDs) == len(img.DiffIDs)
	for i := range diffIDs {
		same = same && diffIDs[i] == img.DiffIDs[i]
	}
	if same {
		return img.ID, data, nil
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(data, &cfg); err != nil {
		return "", nil, errdefs.Invalid("image config %s: %v", img.ID, err)
	}
	rootfs, err := json.Marshal(map[string]any{"type": "layers", "diff_ids": diffIDs})
	if err != nil {
		return "", nil, err
	}
	cfg["rootfs"] = rootfs
	out, err := json.Marshal(cfg)
	if err != nil {
		return "", nil, err
	}
	d := digest.FromBytes(out)
	if _, err := s.content.Ingest(ctx, "config-"+d.String(), d, int64(len(out)), bytes.NewReader(out)); err != nil {
		return "", nil, err
	}
	return d, out, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// buildManifest makes a Docker v2 schema 2 manifest, as `docker push` does.
func buildManifest(config digest.Digest, configSize int64, blobs []store.Blob) ([]byte, error) {
	type desc struct {
		MediaType string        `json:"mediaType"`
		Size      int64         `json:"size"`
		Digest    digest.Digest `json:"digest"`
	}
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{SchemaVersion: 2, MediaType: mediaTypeManifest, Config: desc{mediaTypeConfig, configSize, config}, Layers: []desc{}}
	for _, b := range blobs {
		m.Layers = append(m.Layers, desc{b.MediaType, b.Size, b.Digest})
	}
	return json.MarshalIndent(m, "", "   ")
}

// imageLayers finds an image and the records of its layers, base first.
func (s *Service) imageLayers(ctx context.Context, name string) (store.Image, []store.Layer, error) {
	var img store.Image
	var layers []store.Layer
	err := s.db.View(ctx, func(tx *store.Tx) error {
		var err error
		if img, err = resolve(tx, name); err != nil {
			return err
		}
		for _, chain := range img.Layers {
			l, err := tx.Layer(chain)
			if err != nil {
				return err
			}
			layers = append(layers, l)
		}
		return nil
	})
	return img, layers, err
}
