package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gantry-dev/gantry/internal/archive"
	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/registry"
	"github.com/gantry-dev/gantry/internal/store"
)

// The archive `save` writes and `load` reads is Docker's: an OCI image
// layout (oci-layout, index.json, blobs/sha256/...) with Docker's
// manifest.json beside it, so `docker load`, podman, skopeo and gantry all
// read it. Layers are uncompressed tars.

type archiveManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// Save writes the named images to w.
func (s *Service) Save(ctx context.Context, names []string, w io.Writer) error {
	tw := tar.NewWriter(w)
	written := map[digest.Digest]bool{}
	var manifests []archiveManifest
	var index ocispec.Index
	index.SchemaVersion = 2
	index.MediaType = ocispec.MediaTypeImageIndex
	for _, name := range names {
		img, layers, err := s.imageLayers(ctx, name)
		if err != nil {
			return err
		}
		var diffIDs []digest.Digest
		var layerDescs []ocispec.Descriptor
		for _, l := range layers {
			d, size, err := s.saveLayer(ctx, tw, l, written)
			if err != nil {
				return err
			}
			diffIDs = append(diffIDs, d)
			layerDescs = append(layerDescs, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: d, Size: size})
		}
		cfgID, cfgData, err := s.configFor(ctx, img, diffIDs)
		if err != nil {
			return err
		}
		if err := writeBlob(tw, cfgID, cfgData, written); err != nil {
			return err
		}
		m := ocispec.Manifest{
			MediaType: ocispec.MediaTypeImageManifest,
			Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfgID, Size: int64(len(cfgData))},
			Layers:    layerDescs,
		}
		m.SchemaVersion = 2
		mData, err := json.Marshal(m)
		if err != nil {
			return err
		}
		mID := digest.FromBytes(mData)
		if err := writeBlob(tw, mID, mData, written); err != nil {
			return err
		}
		entry := archiveManifest{Config: blobPath(cfgID), RepoTags: []string{}}
		for _, d := range diffIDs {
			entry.Layers = append(entry.Layers, blobPath(d))
		}
		desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: mID, Size: int64(len(mData))}
		if ref, err := registry.ParseReference(name); err == nil && ref.Tag() != "" && !strings.HasPrefix(img.ID.Encoded(), name) {
			entry.RepoTags = append(entry.RepoTags, ref.Familiar())
			desc.Annotations = map[string]string{
				"io.containerd.image.name": ref.String(),
				ocispec.AnnotationRefName:  ref.Tag(),
			}
		}
		manifests = append(manifests, entry)
		index.Manifests = append(index.Manifests, desc)
	}
	files := []struct {
		name string
		v    any
	}{{"manifest.json", manifests}, {"index.json", index}, {"oci-layout", ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}}}
	for _, f := range files {
		data, err := json.Marshal(f.v)
		if err != nil {
			return err
		}
		if err := writeFile(tw, f.name, data); err != nil {
			return err
		}
	}
	return tw.Close()
}

func blobPath(d digest.Digest) string { return "blobs/" + d.Algorithm().String() + "/" + d.Encoded() }

func writeFile(tw *tar.Writer, name string, data []byte) error {
	hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func writeBlob(tw *tar.Writer, d digest.Digest, data []byte, written map[digest.Digest]bool) error {
	if written[d] {
		return nil
	}
	written[d] = true
	return writeFile(tw, blobPath(d), data)
}

// saveLayer writes a layer's tar as a blob, going through a temporary file
// since a tar entry needs its size first. Returns its digest and size.
func (s *Service) saveLayer(ctx context.Context, tw *tar.Writer, l store.Layer, written map[digest.Digest]bool) (digest.Digest, int64, error) {
	dir, err := s.snaps.LayerPath(l.ChainID)
	if err != nil {
		return "", 0, err
	}
	tmp, err := os.CreateTemp("", "gantry-save-")
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	counter := &countWriter{w: tmp}
	d, err := layerTar(ctx, dir, l.DiffID, counter)
	if err != nil {
		return "", 0, err
	}
	if written[d] {
		return d, counter.n, nil
	}
	written[d] = true
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return "", 0, err
	}
	hdr := &tar.Header{Name: blobPath(d), Mode: 0o644, Size: counter.n, Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
	if err := tw.WriteHeader(hdr); err != nil {
		return "", 0, err
	}
	if _, err := io.CopyBuffer(tw, tmp, make([]byte, 1<<20)); err != nil {
		return "", 0, err
	}
	return d, counter.n, nil
}

// Loaded is one image `load` brought in.
type Loaded struct {
	ID   digest.Digest
	Tags []string // familiar names
}

// Load reads an archive written by `save` or `docker save` (Docker's
// manifest.json, or an OCI layout alone) and records its images.
func (s *Service) Load(ctx context.Context, r io.Reader) ([]Loaded, error) {
	unlock, err := s.lockRoot(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	dir, err := os.MkdirTemp("", "gantry-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	dr, _, err := archive.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer dr.Close()
	if _, err := archive.Apply(ctx, dir, dr, archive.ApplyOptions{Whiteouts: archive.ApplyWhiteouts, NoDevices: true, NoOwnership: true}); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	entries, err := readArchiveManifests(dir)
	if err != nil {
		return nil, err
	}
	var out []Loaded
	for _, e := range entries {
		l, err := s.loadOne(ctx, dir, e)
		if err != nil {
			return out, fmt.Errorf("load: %w", err)
		}
		out = append(out, l)
	}
	return out, nil
}

// readArchiveManifests lists the images in an unpacked archive.
func readArchiveManifests(dir string) ([]archiveManifest, error) {
	data, err := readArchiveFile(dir, "manifest.json")
	if err == nil {
		var list []archiveManifest
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, errdefs.Invalid("load: manifest.json: %v", err)
		}
		return list, nil
	}
	// An OCI layout without Docker's manifest.json.
	data, err = readArchiveFile(dir, "index.json")
	if err != nil {
		return nil, errdefs.Invalid("load: the archive has neither manifest.json nor index.json: is it from `docker save`?")
	}
	var index ocispec.Index
	if err := json.Unmarshal(data, &index); err != nil {
		return nil, errdefs.Invalid("load: index.json: %v", err)
	}
	var list []archiveManifest
	for _, desc := range index.Manifests {
		if err := desc.Digest.Validate(); err != nil {
			return nil, errdefs.Invalid("load: index.json names a bad digest %q", desc.Digest)
		}
		mData, err := readArchiveFile(dir, blobPath(desc.Digest))
		if err != nil {
			return nil, errdefs.Invalid("load: manifest %s is not in the archive", desc.Digest)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(mData, &m); err != nil {
			return nil, errdefs.Invalid("load: manifest %s: %v", desc.Digest, err)
		}
		if m.Config.Digest.Validate() != nil {
			return nil, errdefs.Invalid("load: manifest %s names a bad config digest", desc.Digest)
		}
		e := archiveManifest{Config: blobPath(m.Config.Digest)}
		for _, l := range m.Layers {
			if l.Digest.Validate() != nil {
				return nil, errdefs.Invalid("load: manifest %s names a bad layer digest", desc.Digest)
			}
			e.Layers = append(e.Layers, blobPath(l.Digest))
		}
		if name := desc.Annotations["io.containerd.image.name"]; name != "" {
			if ref, err := registry.ParseReference(name); err == nil {
				e.RepoTags = append(e.RepoTags, ref.Familiar())
			}
		}
		list = append(list, e)
	}
	return list, nil
}

// archiveFile opens a regular file of the unpacked archive by the path a
// manifest gives, resolved inside the archive: a symlink in a crafted
// archive cannot make load read the host's files.
func archiveFile(dir, p string) (*os.File, error) {
	root, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := openRegularInRoot(root, path.Clean("/" + p)[1:])
	if err != nil {
		return nil, errdefs.Invalid("%s is not a file in the archive", p)
	}
	return f, nil
}

func readArchiveFile(dir, p string) ([]byte, error) {
	f, err := archiveFile(dir, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 64<<20))
}

func (s *Service) loadOne(ctx context.Context, dir string, e archiveManifest) (Loaded, error) {
	cfgData, err := readArchiveFile(dir, e.Config)
	if err != nil {
		return Loaded{}, err
	}
	var cfg dockerspec.DockerOCIImage
	if err := json.Unmarshal(cfgData, &cfg); err != nil {
		return Loaded{}, errdefs.Invalid("config %s: %v", e.Config, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(e.Layers) {
		return Loaded{}, errdefs.Invalid("config lists %d layers, the archive %d", len(cfg.RootFS.DiffIDs), len(e.Layers))
	}
	chains := chainIDs(cfg.RootFS.DiffIDs)
	sizes := make([]int64, len(chains))
	for i, lp := range e.Layers {
		var parent digest.Digest
		if i > 0 {
			parent = chains[i-1]
		}
		_, err = s.snaps.Unpack(ctx, chains[i], parent, func(target string) error {
			f, err := archiveFile(dir, lp)
			if err != nil {
				return err
			}
			defer f.Close()
			n, err := unpackStream(ctx, target, f, cfg.RootFS.DiffIDs[i])
			sizes[i] = n
			return err
		})
		if err != nil {
			return Loaded{}, err
		}
		if sizes[i] == 0 {
			if lp, err := s.snaps.LayerPath(chains[i]); err == nil {
				sizes[i] = dirSize(lp)
			}
		}
	}
	var names []registry.Reference
	loaded := Loaded{}
	for _, tag := range e.RepoTags {
		ref, err := registry.ParseReference(tag)
		if err != nil {
			return Loaded{}, err
		}
		names = append(names, ref)
		loaded.Tags = append(loaded.Tags, ref.Familiar())
	}
	id, err := s.storeImage(ctx, cfgData, sizes, names, "")
	loaded.ID = id
	return loaded, err
}
