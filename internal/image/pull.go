package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/gantry-dev/gantry/internal/archive"
	"github.com/gantry-dev/gantry/internal/content"
	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/registry"
	"github.com/gantry-dev/gantry/internal/store"
)

// PullOptions tune a pull.
type PullOptions struct {
	Platform *ocispec.Platform
	Progress ProgressFunc
	// Credentials, when set, replace the registry client's own (the
	// daemon's request's X-Registry-Auth).
	Credentials *registry.Credentials
}

// PullResult says what a pull did.
type PullResult struct {
	Ref            registry.Reference
	ID             digest.Digest // image ID (config digest)
	ManifestDigest digest.Digest
	UpToDate       bool // nothing was downloaded
}

// Pull fetches an image and unpacks its layers. Layers already on disk are
// not fetched; the others download in parallel and unpack while they stream
// in. The name is recorded only once every layer is unpacked and verified.
func (s *Service) Pull(ctx context.Context, name string, opts PullOptions) (*PullResult, error) {
	unlock, err := s.lockRoot(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ref, err := registry.ParseReference(name)
	if err != nil {
		return nil, err
	}
	if opts.Credentials != nil {
		ctx = registry.WithRequestCredentials(ctx, *opts.Credentials)
	}
	res, err := s.pull(ctx, ref, opts)
	if err != nil {
		if diskFull(err) {
			// Where and what to do: the file the write failed on (a blob,
			// a layer's file) says neither.
			return nil, errdefs.Unavailable("pull %s: no space left on device in %s: free some space (e.g. gantry image prune -a, gantry system prune) and pull again", ref.Familiar(), s.root)
		}
		return nil, fmt.Errorf("pull %s: %w", ref.Familiar(), err)
	}
	return res, nil
}

// diskFull tells a failure of a full disk or an exhausted quota.
func diskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func (s *Service) pull(ctx context.Context, ref registry.Reference, opts PullOptions) (*PullResult, error) {
	platform := opts.Platform
	if platform == nil {
		p := hostPlatform()
		platform = &p
	}
	progress := opts.Progress
	if ref.Tag() != "" {
		progress.send(Progress{Status: "Pulling from " + ref.Path(), ID: ref.Tag()})
	}
	resolved, err := s.registry.Resolve(ctx, ref, platform)
	if err != nil {
		return nil, err
	}
	result := &PullResult{Ref: ref, ID: resolved.Config.Digest, ManifestDigest: resolved.ManifestDigest}
	if s.upToDate(ctx, resolved) {
		if err := s.recordNames(ctx, ref, resolved); err != nil {
			return nil, err
		}
		result.UpToDate = true
		return result, nil
	}

	if _, err := s.content.Ingest(ctx, "manifest-"+resolved.ManifestDigest.String(), resolved.ManifestDigest,
		int64(len(resolved.Manifest)), bytes.NewReader(resolved.Manifest)); err != nil {
		return nil, err
	}
	cfg, err := s.fetchConfig(ctx, ref, resolved.Config)
	if err != nil {
		return nil, err
	}
	diffIDs := cfg.RootFS.DiffIDs
	if len(diffIDs) != len(resolved.Layers) {
		return nil, errdefs.Invalid("image config lists %d layers but the manifest %d", len(diffIDs), len(resolved.Layers))
	}
	chains := chainIDs(diffIDs)
	sizes := make([]int64, len(chains))

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.MaxConcurrentDownloads)
	for i, layer := range resolved.Layers {
		id := shortID(layer.Digest)
		if s.snaps.Exists(chains[i]) {
			progress.send(Progress{ID: id, Status: "Already exists"})
			continue
		}
		progress.send(Progress{ID: id, Status: "Pulling fs layer"})
	}
	for i, layer := range resolved.Layers {
		if s.snaps.Exists(chains[i]) {
			continue
		}
		var parent digest.Digest
		if i > 0 {
			parent = chains[i-1]
		}
		g.Go(func() error {
			n, err := s.pullLayer(gctx, ref, layer, diffIDs[i], chains[i], parent, progress)
			sizes[i] = n
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	img := store.Image{
		ID:                resolved.Config.Digest,
		ManifestDigest:    resolved.ManifestDigest,
		ManifestMediaType: resolved.MediaType,
		Layers:            chains,
		DiffIDs:           diffIDs,
		Platform:          *platform,
		Labels:            cfg.Config.Labels,
	}
	if cfg.Created != nil {
		img.Created = *cfg.Created
	}
	err = s.db.Update(ctx, func(tx *store.Tx) error {
		for i, layer := range resolved.Layers {
			var parent digest.Digest
			if i > 0 {
				parent = chains[i-1]
			}
			l, err := tx.Layer(chains[i])
			if errors.Is(err, errdefs.ErrNotFound) {
				size := sizes[i]
				if size == 0 {
					// Unpacked earlier (a stopped pull, or another process
					// while this one waited): measure what is on disk.
					if dir, err := s.snaps.LayerPath(chains[i]); err == nil {
						size = dirSize(dir)
					}
				}
				l = store.Layer{ChainID: chains[i], DiffID: diffIDs[i], Parent: parent, Size: size}
				if err := tx.PutLayer(l); err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
			img.Size += l.Size
			if err := tx.AddBlobSource(chains[i], store.Blob{
				Digest: layer.Digest, MediaType: layer.MediaType, Size: layer.Size, Sources: []string{ref.Name()},
			}); err != nil {
				return err
			}
		}
		if old, err := tx.Image(img.ID); err == nil {
			img.RepoDigests = old.RepoDigests
		}
		img.RepoDigests = addUnique(img.RepoDigests, ref.Name()+"@"+resolved.ManifestDigest.String())
		img.LastUsed = time.Now()
		if err := tx.PutImage(img); err != nil {
			return err
		}
		if ref.Tag() != "" {
			return tx.SetName(ref.String(), img.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return result, nil
}

// upToDate tells whether the resolved image is already complete here.
func (s *Service) upToDate(ctx context.Context, r *registry.Resolved) bool {
	var img store.Image
	err := s.db.View(ctx, func(tx *store.Tx) error {
		var err error
		img, err = tx.Image(r.Config.Digest)
		return err
	})
	if err != nil {
		return false
	}
	for _, chain := range img.Layers {
		if !s.snaps.Exists(chain) {
			return false
		}
	}
	return true
}

// recordNames points the reference's tag at a present image.
func (s *Service) recordNames(ctx context.Context, ref registry.Reference, r *registry.Resolved) error {
	return s.db.Update(ctx, func(tx *store.Tx) error {
		img, err := tx.Image(r.Config.Digest)
		if err != nil {
			return err
		}
		img.RepoDigests = addUnique(img.RepoDigests, ref.Name()+"@"+r.ManifestDigest.String())
		img.LastUsed = time.Now()
		if err := tx.PutImage(img); err != nil {
			return err
		}
		if ref.Tag() != "" {
			return tx.SetName(ref.String(), img.ID)
		}
		return nil
	})
}

func addUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// fetchConfig returns the image config, from the content store or the
// registry.
func (s *Service) fetchConfig(ctx context.Context, ref registry.Reference, desc ocispec.Descriptor) (*ocispec.Image, error) {
	data, err := s.content.ReadAll(ctx, desc.Digest)
	if errors.Is(err, errdefs.ErrNotFound) {
		rc, _, ferr := s.registry.FetchBlob(ctx, ref, desc.Digest, 0)
		if ferr != nil {
			return nil, ferr
		}
		_, err = s.content.Ingest(ctx, "config-"+desc.Digest.String(), desc.Digest, desc.Size, rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		data, err = s.content.ReadAll(ctx, desc.Digest)
	}
	if err != nil {
		return nil, err
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, errdefs.Invalid("image config %s: %v", desc.Digest, err)
	}
	return &cfg, nil
}

// pullLayer downloads one layer and unpacks it as it arrives. The compressed
// bytes also go to an ingest of the content store, only so that an
// interrupted pull can resume from them; it is discarded once the layer is
// unpacked. Returns the layer's uncompressed size.
func (s *Service) pullLayer(ctx context.Context, ref registry.Reference, desc ocispec.Descriptor, diffID, chainID, parent digest.Digest, progress ProgressFunc) (int64, error) {
	id := shortID(desc.Digest)
	var size int64
	_, err := s.snaps.Unpack(ctx, chainID, parent, func(dir string) error {
		w, err := s.content.Writer(ctx, "layer-"+desc.Digest.String(), desc.Digest, desc.Size)
		if err != nil {
			return err
		}
		w.Transient()
		keep := false
		defer func() {
			if keep {
				_ = w.Close() // what arrived stays for the next attempt
			} else {
				_ = w.Discard()
			}
		}()
		src, err := s.layerSource(ctx, ref, desc, w, progress)
		if err != nil {
			keep = false
			return err
		}
		defer src.Close()

		// Download (hash, keep for resume) and unpack (decompress, hash,
		// extract) run side by side, joined by a pipe.
		pr, pw := io.Pipe()
		var dlErr error
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, dlErr = io.CopyBuffer(pw, src, make([]byte, 256<<10))
			pw.CloseWithError(dlErr)
		}()
		var uerr error
		size, uerr = unpackStream(ctx, dir, pr, diffID)
		if uerr != nil {
			// Let the download run to its end: whether the bytes were
			// what the manifest promised decides what to report.
			_, _ = io.Copy(io.Discard, pr)
		}
		wg.Wait()
		switch {
		case dlErr != nil && diskFull(dlErr):
			return fmt.Errorf("layer %s: %w", id, dlErr)
		case dlErr != nil:
			// The registry or the network failed: what arrived is kept,
			// and the next pull resumes from it.
			keep = true
			return fmt.Errorf("layer %s: download stopped after %d of %d bytes: %w", id, w.Offset(), desc.Size, dlErr)
		case desc.Size > 0 && w.Offset() != desc.Size:
			keep = false
			return errdefs.Invalid("layer %s: size mismatch: the manifest says %d bytes, the registry sent %d", id, desc.Size, w.Offset())
		case w.Digest() != desc.Digest:
			keep = false
			return errdefs.Invalid("layer %s: digest mismatch: the manifest says %s, the content is %s", id, desc.Digest, w.Digest())
		case uerr != nil:
			keep = false
			return fmt.Errorf("layer %s: %w", id, uerr)
		}
		keep = false
		progress.send(Progress{ID: id, Status: "Pull complete"})
		return nil
	})
	return size, err
}

// layerSource is the layer's compressed stream: what an earlier attempt left
// in the ingest, then the rest from the registry, which is also written to
// the ingest as it passes.
func (s *Service) layerSource(ctx context.Context, ref registry.Reference, desc ocispec.Descriptor, w *content.Writer, progress ProgressFunc) (io.ReadCloser, error) {
	id := shortID(desc.Digest)
	offset := w.Offset()
	if desc.Size > 0 && offset >= desc.Size {
		offset = 0
	}
	rc, got, err := s.registry.FetchBlob(ctx, ref, desc.Digest, offset)
	if err != nil {
		return nil, err
	}
	if got != offset || offset == 0 {
		if w.Offset() > 0 {
			// The registry ignored the range, or the partial was whole but
			// never verified: start this layer over.
			rc.Close()
			if err := w.Truncate(); err != nil {
				return nil, err
			}
			if rc, _, err = s.registry.FetchBlob(ctx, ref, desc.Digest, 0); err != nil {
				return nil, err
			}
		}
		counted := &progressReader{r: io.TeeReader(rc, w), id: id, total: desc.Size, progress: progress}
		return readCloser{counted, rc}, nil
	}
	partial, err := w.PartialReader()
	if err != nil {
		rc.Close()
		return nil, err
	}
	counted := &progressReader{r: io.MultiReader(partial, io.TeeReader(rc, w)), id: id, total: desc.Size, progress: progress}
	return readCloser{counted, closers{partial, rc}}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

type closers []io.Closer

func (cs closers) Close() error {
	for _, c := range cs {
		c.Close()
	}
	return nil
}

// unpackStream decompresses a layer, checks its diff ID and extracts it.
func unpackStream(ctx context.Context, dir string, r io.Reader, diffID digest.Digest) (int64, error) {
	dr, _, err := archive.Decompress(r)
	if err != nil {
		return 0, err
	}
	defer dr.Close()
	h := sha256.New()
	recorded, finish, err := recordTarSplit(dir, io.TeeReader(dr, h))
	if err != nil {
		return 0, err
	}
	var src io.Reader = recorded
	if !noReadAhead {
		ahead := newReadAhead(recorded)
		defer ahead.Close()
		src = ahead
	}
	n, err := archive.Apply(ctx, dir, src, archive.ApplyOptions{})
	if err != nil {
		_ = finish() // its error is a consequence of this one
		return n, err
	}
	if err := finish(); err != nil {
		return n, errdefs.Invalid("layer %s: %v", diffID, err)
	}
	// The tar reader stops at the end marker; the padding after it counts.
	extra, err := io.Copy(h, dr)
	if err != nil {
		return n, errdefs.Invalid("layer %s: %v", diffID, err)
	}
	if got := digestOf(h); got != diffID {
		return n, errdefs.Invalid("layer %s: uncompressed content does not match (got %s)", diffID, got)
	}
	return n + extra, nil
}

var noReadAhead bool

func digestOf(h hash.Hash) digest.Digest { return digest.NewDigest(digest.SHA256, h) }

// progressReader reports download progress at most every 100 ms.
type progressReader struct {
	r        io.Reader
	id       string
	total    int64
	done     int64
	last     time.Time
	progress ProgressFunc
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if now := time.Now(); now.Sub(p.last) > 100*time.Millisecond || err == io.EOF {
		p.last = now
		p.progress.send(Progress{ID: p.id, Status: "Downloading", Current: p.done, Total: p.total})
	}
	if err == io.EOF {
		p.progress.send(Progress{ID: p.id, Status: "Download complete"})
	}
	return n, err
}
