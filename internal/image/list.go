package image

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/registry"
	"github.com/gantry-dev/gantry/internal/store"
)

// ListOptions select images as `docker images` does.
type ListOptions struct {
	All     bool     // include intermediate images (builds)
	Filters []string // "dangling=true", "reference=busybox*", "before=IMG", "since=IMG", "label=k[=v]"
}

// List returns image summaries, newest first.
func (s *Service) List(ctx context.Context, opts ListOptions) ([]image.Summary, error) {
	f, err := parseFilters(opts.Filters)
	if err != nil {
		return nil, err
	}
	var images []store.Image
	var names map[string]digest.Digest
	err = s.db.View(ctx, func(tx *store.Tx) error {
		var err error
		if images, err = tx.Images(); err != nil {
			return err
		}
		names, err = tx.Names()
		return err
	})
	if err != nil {
		return nil, err
	}
	tags := map[digest.Digest][]string{}
	for name, id := range names {
		if ref, err := registry.ParseReference(name); err == nil && ref.Tag() != "" {
			tags[id] = append(tags[id], ref.Familiar())
		}
	}
	byID := map[digest.Digest]store.Image{}
	children := map[digest.Digest]bool{}
	for _, img := range images {
		byID[img.ID] = img
		if img.Parent != "" {
			children[img.Parent] = true
		}
	}
	if err := f.resolveTimes(byID, names); err != nil {
		return nil, err
	}
	out := make([]image.Summary, 0, len(images))
	for _, img := range images {
		repoTags := tags[img.ID]
		sort.Strings(repoTags)
		// Docker hides untagged parents of other images unless -a.
		if len(repoTags) == 0 && children[img.ID] && !opts.All {
			continue
		}
		if !f.match(img, repoTags) {
			continue
		}
		sum := image.Summary{
			ID:          img.ID.String(),
			ParentID:    img.Parent.String(),
			RepoTags:    repoTags,
			RepoDigests: familiarDigests(img.RepoDigests),
			Created:     img.Created.Unix(),
			Size:        img.Size,
			Labels:      img.Labels,
			Containers:  -1, // not counted, as Docker's answer without ?shared-size
			SharedSize:  -1,
		}
		if sum.RepoTags == nil {
			sum.RepoTags = []string{}
		}
		if sum.RepoDigests == nil {
			sum.RepoDigests = []string{}
		}
		out = append(out, sum)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created > out[j].Created })
	return out, nil
}

// Generation identifies the metadata's content now: a List made at the same
// generation, with the same options, returns the same images.
func (s *Service) Generation(ctx context.Context) (uint64, error) {
	var gen uint64
	err := s.db.View(ctx, func(tx *store.Tx) error {
		gen = tx.Generation()
		return nil
	})
	return gen, err
}

func familiarDigests(full []string) []string {
	out := make([]string, 0, len(full))
	for _, d := range full {
		if ref, err := registry.ParseReference(d); err == nil {
			out = append(out, ref.FamiliarName()+"@"+ref.Digest().String())
		}
	}
	return out
}

// Resolve finds an image by name ("busybox", "app:1", "repo@sha256:..."),
// full or short ID.
func (s *Service) Resolve(ctx context.Context, name string) (store.Image, error) {
	var img store.Image
	err := s.db.View(ctx, func(tx *store.Tx) error {
		var err error
		img, err = resolve(tx, name)
		return err
	})
	return img, err
}

func resolve(tx *store.Tx, name string) (store.Image, error) {
	if id, ok := asID(name); ok {
		if img, err := tx.Image(id); err == nil {
			return img, nil
		}
	}
	if ref, err := registry.ParseReference(name); err == nil {
		if ref.Digest() != "" {
			images, err := tx.Images()
			if err != nil {
				return store.Image{}, err
			}
			want := ref.Name() + "@" + ref.Digest().String()
			for _, img := range images {
				for _, d := range img.RepoDigests {
					if d == want {
						return img, nil
					}
				}
			}
		} else if id, err := tx.Resolve(ref.String()); err == nil {
			return tx.Image(id)
		}
	}
	// A short ID prefix.
	if isHexPrefix(strings.TrimPrefix(name, "sha256:")) {
		prefix := strings.TrimPrefix(name, "sha256:")
		images, err := tx.Images()
		if err != nil {
			return store.Image{}, err
		}
		var found []store.Image
		for _, img := range images {
			if strings.HasPrefix(img.ID.Encoded(), prefix) {
				found = append(found, img)
			}
		}
		if len(found) == 1 {
			return found[0], nil
		}
		if len(found) > 1 {
			return store.Image{}, errdefs.Invalid("image ID prefix %q is ambiguous: give more digits", prefix)
		}
	}
	return store.Image{}, errdefs.NotFound("No such image: %s", name)
}

func asID(s string) (digest.Digest, bool) {
	if strings.HasPrefix(s, "sha256:") {
		d := digest.Digest(s)
		return d, d.Validate() == nil
	}
	if len(s) == 64 && isHexPrefix(s) {
		return digest.NewDigestFromEncoded(digest.SHA256, s), true
	}
	return "", false
}

func isHexPrefix(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Config reads an image's config blob.
func (s *Service) Config(ctx context.Context, id digest.Digest) (*dockerspec.DockerOCIImage, error) {
	data, err := s.content.ReadAll(ctx, id)
	if err != nil {
		return nil, err
	}
	var cfg dockerspec.DockerOCIImage
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, errdefs.Invalid("image config %s: %v", id, err)
	}
	return &cfg, nil
}

// Inspect returns Docker's image inspect document.
func (s *Service) Inspect(ctx context.Context, name string) (*image.InspectResponse, error) {
	var img store.Image
	var names []string
	err := s.db.View(ctx, func(tx *store.Tx) error {
		var err error
		if img, err = resolve(tx, name); err != nil {
			return err
		}
		names, err = tx.NamesOf(img.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	cfg, err := s.Config(ctx, img.ID)
	if err != nil {
		return nil, err
	}
	resp := &image.InspectResponse{
		ID:           img.ID.String(),
		RepoTags:     []string{},
		RepoDigests:  familiarDigests(img.RepoDigests),
		Config:       &cfg.Config,
		Architecture: cfg.Architecture,
		Variant:      cfg.Variant,
		Os:           cfg.OS,
		Author:       cfg.Author,
		Size:         img.Size,
		RootFS:       image.RootFS{Type: "layers"},
	}
	for _, n := range names {
		if ref, err := registry.ParseReference(n); err == nil && ref.Tag() != "" {
			resp.RepoTags = append(resp.RepoTags, ref.Familiar())
		}
	}
	if cfg.Created != nil {
		resp.Created = cfg.Created.UTC().Format(time.RFC3339Nano)
	}
	for _, h := range cfg.History {
		if h.Comment != "" {
			resp.Comment = h.Comment
		}
	}
	for _, d := range img.DiffIDs {
		resp.RootFS.Layers = append(resp.RootFS.Layers, d.String())
	}
	if !img.LastUsed.IsZero() {
		resp.Metadata.LastTagTime = img.LastUsed
	}
	return resp, nil
}

// History lists an image's history, newest first, with the size of the layer
// each step made, as `docker history` shows it.
func (s *Service) History(ctx context.Context, name string) ([]image.HistoryResponseItem, error) {
	img, err := s.Resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	cfg, err := s.Config(ctx, img.ID)
	if err != nil {
		return nil, err
	}
	var sizes []int64
	err = s.db.View(ctx, func(tx *store.Tx) error {
		for _, chain := range img.Layers {
			l, err := tx.Layer(chain)
			if err != nil {
				return err
			}
			sizes = append(sizes, l.Size)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []image.HistoryResponseItem
	layer := 0
	for _, h := range cfg.History {
		item := image.HistoryResponseItem{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, Tags: []string{}}
		if h.Created != nil {
			item.Created = h.Created.Unix()
		}
		if !h.EmptyLayer && layer < len(sizes) {
			item.Size = sizes[layer]
			layer++
		}
		out = append(out, item)
	}
	if len(out) == 0 {
		// An image without history (imports): one line per layer.
		for _, size := range sizes {
			out = append(out, image.HistoryResponseItem{ID: "<missing>", Size: size, Tags: []string{}})
		}
	}
	// newest first; the top line carries the image ID and its tags
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if len(out) > 0 {
		out[0].ID = img.ID.String()
		if cfg.Created != nil && out[0].Created == 0 {
			out[0].Created = cfg.Created.Unix()
		}
	}
	return out, nil
}

// Tag gives an image another name.
func (s *Service) Tag(ctx context.Context, source, target string) error {
	ref, err := registry.ParseReference(target)
	if err != nil {
		return err
	}
	if ref.Digest() != "" {
		return errdefs.Invalid("refusing to create a tag with a digest reference: %s", target)
	}
	return s.db.Update(ctx, func(tx *store.Tx) error {
		img, err := resolve(tx, source)
		if err != nil {
			return err
		}
		img.LastUsed = time.Now()
		if err := tx.PutImage(img); err != nil {
			return err
		}
		return tx.SetName(ref.String(), img.ID)
	})
}

// InUse tells whether a container uses an image and names one that does;
// the container service provides it. Without it nothing is in use.
type InUse func(id digest.Digest) (containerID string, used bool)

// usedBy asks inUse about id.
func (inUse InUse) usedBy(id digest.Digest) (string, bool) {
	if inUse == nil {
		return "", false
	}
	return inUse(id)
}

// Remove untags or deletes an image as `docker rmi` does: a name that is one
// of several only loses that name; the last name, or an ID, deletes the
// image and the layers no other image uses. An image containers use is
// refused unless force.
func (s *Service) Remove(ctx context.Context, name string, force bool, inUse InUse) ([]image.DeleteResponse, error) {
	unlock, err := s.lockRoot(ctx, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.remove(ctx, name, force, inUse)
}

// remove is Remove for a caller that holds the data root's lock.
func (s *Service) remove(ctx context.Context, name string, force bool, inUse InUse) ([]image.DeleteResponse, error) {
	var out []image.DeleteResponse
	var freed []digest.Digest
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		img, err := resolve(tx, name)
		if err != nil {
			return err
		}
		names, err := tx.NamesOf(img.ID)
		if err != nil {
			return err
		}
		ref, refErr := registry.ParseReference(name)
		byName := refErr == nil && contains(names, ref.String())
		if byName && len(names) > 1 {
			out = append(out, image.DeleteResponse{Untagged: ref.Familiar()})
			return tx.DeleteName(ref.String())
		}
		if !byName && len(names) > 1 && !force {
			return errdefs.Conflict("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", shortID(img.ID))
		}
		if ctr, used := inUse.usedBy(img.ID); used {
			// Docker's words: by its last name, the name is what would be
			// lost; by ID, the image.
			switch {
			case !force && byName:
				return errdefs.Conflict("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", name, shortContainerID(ctr), shortID(img.ID))
			case !force:
				return errdefs.Conflict("conflict: unable to delete %s (must be forced) - image is being used by container %s", shortID(img.ID), shortContainerID(ctr))
			}
			// As Docker: forced, an image in use loses its names but stays,
			// with its layers, for the containers built on it.
			for _, n := range names {
				if err := tx.DeleteName(n); err != nil {
					return err
				}
				if r, err := registry.ParseReference(n); err == nil {
					out = append(out, image.DeleteResponse{Untagged: r.Familiar()})
				}
			}
			return nil
		}
		for _, n := range names {
			if err := tx.DeleteName(n); err != nil {
				return err
			}
			if r, err := registry.ParseReference(n); err == nil {
				out = append(out, image.DeleteResponse{Untagged: r.Familiar()})
			}
		}
		for _, d := range img.RepoDigests {
			if r, err := registry.ParseReference(d); err == nil {
				out = append(out, image.DeleteResponse{Untagged: r.FamiliarName() + "@" + r.Digest().String()})
			}
		}
		if err := tx.DeleteImage(img.ID); err != nil {
			return err
		}
		out = append(out, image.DeleteResponse{Deleted: img.ID.String()})
		freed, err = unusedLayers(tx, img.Layers)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.removeLayers(ctx, freed)
	return out, nil
}

// unusedLayers deletes from the metadata the layers of a removed image that
// no remaining image uses, top first, and returns them.
func unusedLayers(tx *store.Tx, layers []digest.Digest) ([]digest.Digest, error) {
	images, err := tx.Images()
	if err != nil {
		return nil, err
	}
	used := map[digest.Digest]bool{}
	for _, img := range images {
		for _, l := range img.Layers {
			used[l] = true
		}
	}
	var freed []digest.Digest
	for i := len(layers) - 1; i >= 0; i-- {
		if used[layers[i]] {
			continue
		}
		if err := tx.DeleteLayer(layers[i]); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return nil, err
		}
		freed = append(freed, layers[i])
	}
	return freed, nil
}

// removeLayers deletes unpacked layers after their metadata is gone; a
// failure leaves a directory that Check reports and removes.
func (s *Service) removeLayers(ctx context.Context, layers []digest.Digest) {
	for _, l := range layers {
		_ = s.snaps.RemoveLayer(ctx, l)
	}
}

// shortContainerID is the 12-character form Docker shows of a container ID.
func shortContainerID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
