package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Image is an image known locally. The JSON field names are the stored
// schema: change them only together with a migration. Empty slices and maps
// come back nil.
type Image struct {
	ID                digest.Digest     `json:"id"`                       // config digest
	ManifestDigest    digest.Digest     `json:"manifestDigest,omitempty"` // "" for images made locally and never pushed
	ManifestMediaType string            `json:"manifestMediaType,omitempty"`
	Layers            []digest.Digest   `json:"layers,omitempty"`  // chain IDs, base first
	DiffIDs           []digest.Digest   `json:"diffIDs,omitempty"` // one per layer
	Size              int64             `json:"size"`              // sum of uncompressed layer sizes
	Created           time.Time         `json:"created,omitzero"`  // from the image config
	Platform          ocispec.Platform  `json:"platform,omitzero"`
	RepoDigests       []string          `json:"repoDigests,omitempty"` // "docker.io/library/busybox@sha256:..."
	Parent            digest.Digest     `json:"parent,omitempty"`      // local parent image (builds)
	Labels            map[string]string `json:"labels,omitempty"`
	LastUsed          time.Time         `json:"lastUsed,omitzero"`
}

// Layer is an unpacked layer, known by its chain ID.
type Layer struct {
	ChainID digest.Digest `json:"chainID"`
	DiffID  digest.Digest `json:"diffID"`
	Parent  digest.Digest `json:"parent,omitempty"` // parent chain ID, "" for a base layer
	Size    int64         `json:"size"`             // uncompressed bytes
	Blobs   []Blob        `json:"blobs,omitempty"`  // compressed forms known for this layer
}

// Blob is a compressed form of a layer.
type Blob struct {
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType,omitempty"`
	Size      int64         `json:"size"`
	Sources   []string      `json:"sources,omitempty"` // repositories known to hold it, for cross-repo mounts
}

// ChainID returns the chain ID of a layer with the given diff ID on top of
// the layer with chain ID parent ("" for a base layer), as the image spec
// defines it.
func ChainID(parent, diffID digest.Digest) digest.Digest {
	if parent == "" {
		return diffID
	}
	return digest.FromString(parent.String() + " " + diffID.String())
}

// Tx is one transaction. It is valid only inside the View or Update call
// that made it; values it returns are copies and stay valid after.
type Tx struct {
	tx     *bolt.Tx
	cache  *ImageCache
	images *bolt.Bucket
	names  *bolt.Bucket
	layers *bolt.Bucket
	kv     *bolt.Bucket
}

// Generation identifies the store's content as this transaction sees it:
// every committed write makes a greater one, also across reopenings.
func (tx *Tx) Generation() uint64 { return uint64(tx.tx.ID()) }

func newTx(btx *bolt.Tx, cache *ImageCache) (*Tx, error) {
	root := btx.Bucket([]byte(v1Bucket))
	if root == nil {
		return nil, fmt.Errorf("metadata: bucket %s missing", v1Bucket)
	}
	tx := &Tx{
		tx:     btx,
		cache:  cache,
		images: root.Bucket([]byte(imagesBucket)),
		names:  root.Bucket([]byte(namesBucket)),
		layers: root.Bucket([]byte(layersBucket)),
		kv:     root.Bucket([]byte(kvBucket)),
	}
	if tx.images == nil || tx.names == nil || tx.layers == nil || tx.kv == nil {
		return nil, fmt.Errorf("metadata: schema v%d buckets missing", SchemaVersion)
	}
	return tx, nil
}

func checkDigest(what string, d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return errdefs.Invalid("%s %q: %v", what, d, err)
	}
	return nil
}

// PutImage stores img, replacing any image with the same ID. Its layers must
// be stored already and be the chain of its diff IDs.
func (tx *Tx) PutImage(img Image) error {
	if err := checkDigest("image ID", img.ID); err != nil {
		return err
	}
	if len(img.Layers) != len(img.DiffIDs) {
		return errdefs.Invalid("image %s: %d layers but %d diff IDs", img.ID, len(img.Layers), len(img.DiffIDs))
	}
	var parent digest.Digest
	for i, chain := range img.Layers {
		if want := ChainID(parent, img.DiffIDs[i]); chain != want {
			return errdefs.Invalid("image %s: layer %d has chain ID %s, want %s for its diff ID", img.ID, i, chain, want)
		}
		if tx.layers.Get([]byte(chain)) == nil {
			return errdefs.NotFound("image %s: layer %s not found", img.ID, chain)
		}
		parent = chain
	}
	return tx.put(tx.images, "image", string(img.ID), img)
}

// Image returns the image with the given ID (config digest).
func (tx *Tx) Image(id digest.Digest) (Image, error) {
	raw := tx.images.Get([]byte(id))
	if raw == nil {
		return Image{}, errdefs.NotFound("no such image: %s", id)
	}
	tx.cache.mu.Lock()
	defer tx.cache.mu.Unlock()
	img, err := tx.cache.decode([]byte(id), raw)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: undecodable record: %w", id, err)
	}
	return img, nil
}

// Images returns every image, in ID order.
func (tx *Tx) Images() ([]Image, error) {
	tx.cache.mu.Lock()
	defer tx.cache.mu.Unlock()
	out := make([]Image, 0, len(tx.cache.m))
	tx.cache.startListing()
	err := tx.images.ForEach(func(k, v []byte) error {
		img, err := tx.cache.decode(k, v)
		if err != nil {
			return fmt.Errorf("image %s: undecodable record: %w", k, err)
		}
		out = append(out, img)
		return nil
	})
	if err != nil {
		return nil, err
	}
	tx.cache.endListing(len(out))
	return out, nil
}

// DeleteImage removes an image and every name that points to it.
func (tx *Tx) DeleteImage(id digest.Digest) error {
	if tx.images.Get([]byte(id)) == nil {
		return errdefs.NotFound("no such image: %s", id)
	}
	names, err := tx.NamesOf(id)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := tx.names.Delete([]byte(n)); err != nil {
			return fmt.Errorf("name %s: %w", n, err)
		}
	}
	if err := tx.images.Delete([]byte(id)); err != nil {
		return fmt.Errorf("image %s: %w", id, err)
	}
	return nil
}

// SetName points name (a full normalized reference with a tag or digest,
// "docker.io/library/busybox:latest") at an existing image, moving it if it
// pointed elsewhere.
func (tx *Tx) SetName(name string, id digest.Digest) error {
	if err := checkName(name); err != nil {
		return err
	}
	if tx.images.Get([]byte(id)) == nil {
		return errdefs.NotFound("name %s: no such image: %s", name, id)
	}
	if err := tx.names.Put([]byte(name), []byte(id)); err != nil {
		return fmt.Errorf("name %s: %w", name, err)
	}
	return nil
}

// checkName refuses names that are not in the form Resolve will be asked
// for, so a short or unnormalized name cannot be stored and never found.
// The full grammar lives in package registry, which makes these names; the
// store checks only their shape: domain "/" path, then ":tag" or "@digest".
func checkName(name string) error {
	domain, path, ok := strings.Cut(name, "/")
	isDomain := strings.ContainsAny(domain, ".:") || domain == "localhost"
	if !ok || !isDomain || path == "" || strings.ContainsAny(name, " \t\n") {
		return errdefs.Invalid("name %q is not a full reference such as docker.io/library/busybox:latest", name)
	}
	repo, dgst, digested := strings.Cut(path, "@")
	if digested && (!strings.Contains(dgst, ":") || strings.Contains(dgst, "/")) {
		return errdefs.Invalid("name %q has a malformed digest", name)
	}
	tagged := strings.LastIndexByte(repo, ':') > strings.LastIndexByte(repo, '/')
	if !tagged && !digested {
		return errdefs.Invalid("name %q has no tag or digest", name)
	}
	return nil
}

// DeleteName removes a name; the image stays.
func (tx *Tx) DeleteName(name string) error {
	if tx.names.Get([]byte(name)) == nil {
		return errdefs.NotFound("no such image: %s", name)
	}
	if err := tx.names.Delete([]byte(name)); err != nil {
		return fmt.Errorf("name %s: %w", name, err)
	}
	return nil
}

// Resolve returns the image ID a name points to.
func (tx *Tx) Resolve(name string) (digest.Digest, error) {
	v := tx.names.Get([]byte(name))
	if v == nil {
		return "", errdefs.NotFound("no such image: %s", name)
	}
	return digest.Digest(v), nil
}

// Names returns every name and the image it points to.
func (tx *Tx) Names() (map[string]digest.Digest, error) {
	out := map[string]digest.Digest{}
	err := tx.names.ForEach(func(k, v []byte) error {
		out[string(k)] = digest.Digest(v)
		return nil
	})
	return out, err
}

// NamesOf returns the names pointing to an image, sorted.
func (tx *Tx) NamesOf(id digest.Digest) ([]string, error) {
	var out []string
	err := tx.names.ForEach(func(k, v []byte) error {
		if string(v) == string(id) {
			out = append(out, string(k))
		}
		return nil
	})
	return out, err // bbolt iterates in key order: already sorted
}

// PutLayer stores a layer, replacing any with the same chain ID. Its chain ID
// must follow from its parent and diff ID, and its parent must be stored.
func (tx *Tx) PutLayer(l Layer) error {
	if err := checkDigest("layer chain ID", l.ChainID); err != nil {
		return err
	}
	if err := checkDigest("layer "+l.ChainID.String()+" diff ID", l.DiffID); err != nil {
		return err
	}
	if want := ChainID(l.Parent, l.DiffID); l.ChainID != want {
		return errdefs.Invalid("layer %s: chain ID does not match its parent and diff ID (want %s)", l.ChainID, want)
	}
	if l.Parent != "" && tx.layers.Get([]byte(l.Parent)) == nil {
		return errdefs.NotFound("layer %s: parent layer %s not found", l.ChainID, l.Parent)
	}
	for _, b := range l.Blobs {
		if err := checkDigest("layer "+l.ChainID.String()+" blob", b.Digest); err != nil {
			return err
		}
	}
	return tx.put(tx.layers, "layer", string(l.ChainID), l)
}

// Layer returns the layer with the given chain ID.
func (tx *Tx) Layer(chainID digest.Digest) (Layer, error) {
	var l Layer
	raw := tx.layers.Get([]byte(chainID))
	if raw == nil {
		return l, errdefs.NotFound("layer %s not found", chainID)
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return l, fmt.Errorf("layer %s: undecodable record: %w", chainID, err)
	}
	return l, nil
}

// Layers returns every layer, in chain ID order.
func (tx *Tx) Layers() ([]Layer, error) {
	var out []Layer
	err := tx.layers.ForEach(func(k, v []byte) error {
		var l Layer
		if err := json.Unmarshal(v, &l); err != nil {
			return fmt.Errorf("layer %s: undecodable record: %w", k, err)
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

// DeleteLayer removes a layer. It does not look for images or layers that
// use it (that would scan them all); the caller decides, and Check reports
// what a wrong decision leaves.
func (tx *Tx) DeleteLayer(chainID digest.Digest) error {
	if tx.layers.Get([]byte(chainID)) == nil {
		return errdefs.NotFound("layer %s not found", chainID)
	}
	if err := tx.layers.Delete([]byte(chainID)); err != nil {
		return fmt.Errorf("layer %s: %w", chainID, err)
	}
	return nil
}

// AddBlobSource merges what is known about a compressed form of a layer: a
// new blob is appended; for a known one, its sources are united and empty
// fields filled in.
func (tx *Tx) AddBlobSource(chainID digest.Digest, b Blob) error {
	if err := checkDigest("blob", b.Digest); err != nil {
		return err
	}
	l, err := tx.Layer(chainID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(l.Blobs, func(x Blob) bool { return x.Digest == b.Digest })
	if i < 0 {
		l.Blobs = append(l.Blobs, Blob{Digest: b.Digest, MediaType: b.MediaType, Size: b.Size})
		i = len(l.Blobs) - 1
	}
	known := &l.Blobs[i]
	if known.MediaType == "" {
		known.MediaType = b.MediaType
	}
	if known.Size == 0 {
		known.Size = b.Size
	}
	for _, s := range b.Sources {
		if s != "" && !slices.Contains(known.Sources, s) {
			known.Sources = append(known.Sources, s)
		}
	}
	slices.Sort(known.Sources)
	return tx.put(tx.layers, "layer", string(chainID), l)
}

// Put stores value under key in a named bucket of the key/value area,
// creating the bucket on first use.
func (tx *Tx) Put(bucket, key string, value []byte) error {
	if bucket == "" || key == "" {
		return errdefs.Invalid("kv: empty bucket or key")
	}
	b, err := tx.kv.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return fmt.Errorf("kv %s: %w", bucket, err)
	}
	if err := b.Put([]byte(key), value); err != nil {
		return fmt.Errorf("kv %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Get returns a copy of the value under key in bucket.
func (tx *Tx) Get(bucket, key string) ([]byte, error) {
	if b := tx.kv.Bucket([]byte(bucket)); b != nil {
		if v := b.Get([]byte(key)); v != nil {
			return bytes.Clone(v), nil
		}
	}
	return nil, errdefs.NotFound("kv %s/%s not found", bucket, key)
}

// Delete removes key from bucket.
func (tx *Tx) Delete(bucket, key string) error {
	b := tx.kv.Bucket([]byte(bucket))
	if b == nil || b.Get([]byte(key)) == nil {
		return errdefs.NotFound("kv %s/%s not found", bucket, key)
	}
	if err := b.Delete([]byte(key)); err != nil {
		return fmt.Errorf("kv %s/%s: %w", bucket, key, err)
	}
	return nil
}

// ForEach calls fn for every key of bucket in key order, with a copy of its
// value. A missing bucket has no keys. An error from fn stops and is
// returned.
func (tx *Tx) ForEach(bucket string, fn func(k string, v []byte) error) error {
	b := tx.kv.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error { return fn(string(k), bytes.Clone(v)) })
}

func (tx *Tx) put(b *bolt.Bucket, what, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s %s: encode: %w", what, key, err)
	}
	if err := b.Put([]byte(key), raw); err != nil {
		return fmt.Errorf("%s %s: %w", what, key, err)
	}
	return nil
}
