package store

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
)

// ImageCache keeps decoded images so that listing them does not decode JSON
// every time (`images` and the API's image list run often). An entry is used
// only if the stored bytes are still exactly those it was decoded from, so it
// can never be stale, whoever changed the record. A DB has one of its own
// unless Options.ImageCache gives one to share between opens: a daemon that
// opens the file around each transaction keeps its cache that way.
type ImageCache struct {
	mu  sync.Mutex
	m   map[string]*cachedImage
	gen uint64 // counts complete listings, to find entries of deleted images
}

type cachedImage struct {
	raw []byte
	img Image
	gen uint64 // last listing that saw it
}

// decode returns the image stored as raw under key, from the cache when the
// bytes match. The caller holds c.mu.
func (c *ImageCache) decode(key, raw []byte) (Image, error) {
	if e, ok := c.m[string(key)]; ok && bytes.Equal(e.raw, raw) {
		e.gen = c.gen
		return e.img.clone(), nil
	}
	var img Image
	if err := json.Unmarshal(raw, &img); err != nil {
		return Image{}, err
	}
	if c.m == nil {
		c.m = map[string]*cachedImage{}
	}
	c.m[string(key)] = &cachedImage{raw: bytes.Clone(raw), img: img, gen: c.gen}
	return img.clone(), nil
}

// startListing begins a complete listing; endListing then drops the entries
// it did not see, those of deleted images. The caller holds c.mu.
func (c *ImageCache) startListing() { c.gen++ }

func (c *ImageCache) endListing(seen int) {
	if len(c.m) == seen {
		return
	}
	for k, e := range c.m {
		if e.gen != c.gen {
			delete(c.m, k)
		}
	}
}

// clone returns a copy that shares no memory with img, so callers may
// change what they get without changing the cache.
func (img Image) clone() Image {
	// One allocation for both digest lists; the full slice expressions keep
	// an append to Layers from running into DiffIDs.
	both := append(append(make([]digest.Digest, 0, len(img.Layers)+len(img.DiffIDs)), img.Layers...), img.DiffIDs...)
	n := len(img.Layers)
	img.Layers, img.DiffIDs = both[:n:n], both[n:len(both):len(both)]
	if len(img.Layers) == 0 {
		img.Layers = nil
	}
	if len(img.DiffIDs) == 0 {
		img.DiffIDs = nil
	}
	img.RepoDigests = slices.Clone(img.RepoDigests)
	img.Labels = maps.Clone(img.Labels)
	img.Platform.OSFeatures = slices.Clone(img.Platform.OSFeatures)
	return img
}
