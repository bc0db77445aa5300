package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifest media types gantry reads.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	mediaTypeDockerSchema1      = "application/vnd.docker.distribution.manifest.v1+json"
	mediaTypeDockerSchema1JWS   = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// manifestAccept is sent with manifest requests, most wanted first.
const manifestAccept = ocispec.MediaTypeImageIndex + ", " + MediaTypeDockerManifestList + ", " +
	ocispec.MediaTypeImageManifest + ", " + MediaTypeDockerManifest

// maxManifestSize bounds manifest reads, as distribution does.
const maxManifestSize = 4 << 20

// Resolved is what a pull needs to know before fetching blobs.
type Resolved struct {
	Ref            Reference
	ManifestDigest digest.Digest // of the platform manifest
	MediaType      string        // manifest media type (OCI or Docker v2 schema 2)
	Manifest       []byte        // raw manifest bytes (verified against ManifestDigest)
	Config         ocispec.Descriptor
	Layers         []ocispec.Descriptor // compressed blobs, base first
	IndexDigest    digest.Digest        // when the reference named an index/manifest list, its digest ("" otherwise)
	Index          []byte               // that index's raw bytes (verified against IndexDigest)
	IndexMediaType string
	// Platform is the index entry's platform; for a single manifest, the
	// platform asked for (the image config says what it really is).
	Platform ocispec.Platform
}

// Resolve fetches the manifest for ref; an index/manifest list is resolved to
// the entry for platform (default: DefaultPlatform). Every manifest's digest
// is verified: against ref's digest when it has one, against the index entry,
// and against the Docker-Content-Digest header.
func (c *Client) Resolve(ctx context.Context, ref Reference, platform *ocispec.Platform) (*Resolved, error) {
	if err := ref.check(); err != nil {
		return nil, err
	}
	want := DefaultPlatform()
	if platform != nil {
		want = NormalizePlatform(*platform)
	}
	o := op{action: "pull", ref: ref, domain: ref.Domain()}
	rt, err := c.transport(ctx, ref.Domain(), []string{pullScope(ref.Path())})
	if err != nil {
		return nil, o.fail(err)
	}

	res := &Resolved{Ref: ref, Platform: want}
	data, mediaType, dgst, err := c.fetchManifest(ctx, rt, o, ref.reference(), ref.Digest())
	if err != nil {
		return nil, err
	}
	// Nested indexes are allowed by OCI; follow at most a couple of levels.
	for depth := 0; isIndex(mediaType); depth++ {
		if depth == 2 {
			return nil, errdefs.Invalid("manifest for %s: indexes nested too deeply", ref.Familiar())
		}
		if res.IndexDigest == "" {
			res.IndexDigest, res.Index, res.IndexMediaType = dgst, data, mediaType
		}
		entry, err := selectManifest(data, want)
		if err != nil {
			return nil, errdefs.Invalid("manifest list for %s: %v", ref.Familiar(), err)
		}
		if entry == nil {
			return nil, errdefs.NotFound("no manifest for %s in %s", FormatPlatform(want), ref.Familiar())
		}
		if entry.Platform != nil {
			res.Platform = *entry.Platform
		}
		data, mediaType, dgst, err = c.fetchManifest(ctx, rt, o, entry.Digest.String(), entry.Digest)
		if err != nil {
			return nil, err
		}
	}
	res.ManifestDigest, res.MediaType, res.Manifest = dgst, mediaType, data
	if err := res.parseManifest(); err != nil {
		return nil, err
	}
	return res, nil
}

// fetchManifest GETs one manifest and verifies it against want (when set)
// and the Docker-Content-Digest header (when sent). It returns its bytes,
// media type and digest.
func (c *Client) fetchManifest(ctx context.Context, rt http.RoundTripper, o op, reference string, want digest.Digest) ([]byte, string, digest.Digest, error) {
	if want != "" {
		if err := want.Validate(); err != nil {
			return nil, "", "", errdefs.Invalid("manifest for %s: bad digest %q: %v", o.ref.Familiar(), want, err)
		}
	}
	u := c.v2URL(o.domain, o.ref.Path()+"/manifests/"+reference)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", "", errdefs.Invalid("manifest for %s: %v", o.ref.Familiar(), err)
	}
	req.Header.Set("Accept", manifestAccept)
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return nil, "", "", o.fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		se := readStatusError(resp)
		if se.status == http.StatusNotFound {
			d := se.detail()
			if se.code == "" || se.code == "MANIFEST_UNKNOWN" {
				d = "manifest unknown"
			}
			shown := o.ref.Familiar()
			if reference != o.ref.reference() {
				shown = o.ref.NameOnly().Familiar() + "@" + reference
			}
			return nil, "", "", errdefs.NotFound("manifest for %s not found: %s", shown, d)
		}
		return nil, "", "", o.fail(se)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestSize+1))
	if err != nil {
		return nil, "", "", o.fail(err)
	}
	if len(data) > maxManifestSize {
		return nil, "", "", errdefs.Invalid("manifest for %s is larger than %d bytes", o.ref.Familiar(), maxManifestSize)
	}

	algo := digest.Canonical
	if want != "" {
		algo = want.Algorithm()
	}
	got := algo.FromBytes(data)
	if want != "" && got != want {
		return nil, "", "", errdefs.Invalid("manifest for %s: digest mismatch: expected %s, got %s", o.ref.Familiar(), want, got)
	}
	if h := resp.Header.Get("Docker-Content-Digest"); h != "" {
		hd, err := digest.Parse(h)
		if err != nil {
			return nil, "", "", errdefs.Invalid("manifest for %s: registry sent a bad Docker-Content-Digest %q", o.ref.Familiar(), h)
		}
		if hd.Algorithm().Available() && hd.Algorithm().FromBytes(data) != hd {
			return nil, "", "", errdefs.Invalid("manifest for %s: digest mismatch: registry says %s, content is %s", o.ref.Familiar(), hd, hd.Algorithm().FromBytes(data))
		}
	}

	mediaType, err := manifestMediaType(resp.Header.Get("Content-Type"), data)
	if err != nil {
		return nil, "", "", errdefs.Invalid("manifest for %s: %v", o.ref.Familiar(), err)
	}
	return data, mediaType, got, nil
}

// manifestMediaType trusts the body's mediaType field over Content-Type (some
// registries send application/json) and refuses what gantry cannot pull.
func manifestMediaType(contentType string, data []byte) (string, error) {
	var probe struct {
		SchemaVersion int             `json:"schemaVersion"`
		MediaType     string          `json:"mediaType"`
		Manifests     json.RawMessage `json:"manifests"`
		Layers        json.RawMessage `json:"layers"`
		FSLayers      json.RawMessage `json:"fsLayers"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return "", fmt.Errorf("not valid JSON: %v", err)
	}
	ct, _, _ := mime.ParseMediaType(contentType)
	mt := probe.MediaType
	if mt == "" {
		mt = ct
	}
	switch {
	case mt == mediaTypeDockerSchema1 || mt == mediaTypeDockerSchema1JWS || probe.SchemaVersion == 1 || probe.FSLayers != nil:
		return "", fmt.Errorf("Docker Image manifest version 2, schema 1 is not supported; push the image again with a current client")
	case mt == ocispec.MediaTypeImageIndex || mt == MediaTypeDockerManifestList ||
		mt == ocispec.MediaTypeImageManifest || mt == MediaTypeDockerManifest:
		return mt, nil
	case probe.Manifests != nil:
		return ocispec.MediaTypeImageIndex, nil
	case probe.Layers != nil:
		return ocispec.MediaTypeImageManifest, nil
	}
	return "", fmt.Errorf("unsupported manifest media type %q", mt)
}

func isIndex(mediaType string) bool {
	return mediaType == ocispec.MediaTypeImageIndex || mediaType == MediaTypeDockerManifestList
}

// selectManifest picks the index entry that best serves want, nil if none.
func selectManifest(data []byte, want ocispec.Platform) (*ocispec.Descriptor, error) {
	var index ocispec.Index
	if err := json.Unmarshal(data, &index); err != nil {
		return nil, err
	}
	var best *ocispec.Descriptor
	bestRank := 0
	for i := range index.Manifests {
		d := &index.Manifests[i]
		if d.Platform == nil {
			continue
		}
		if !isIndex(d.MediaType) && d.MediaType != ocispec.MediaTypeImageManifest && d.MediaType != MediaTypeDockerManifest {
			continue
		}
		if r := platformRank(want, *d.Platform); r > bestRank {
			best, bestRank = d, r
		}
	}
	if best != nil {
		if err := best.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("entry %q: %v", best.Digest, err)
		}
	}
	return best, nil
}

// parseManifest fills Config and Layers from the image manifest, checking
// what later goes into URLs and the content store.
func (r *Resolved) parseManifest() error {
	var m ocispec.Manifest
	if err := json.Unmarshal(r.Manifest, &m); err != nil {
		return errdefs.Invalid("manifest for %s: %v", r.Ref.Familiar(), err)
	}
	bad := func(format string, args ...any) error {
		return errdefs.Invalid("manifest for %s: "+format, append([]any{r.Ref.Familiar()}, args...)...)
	}
	switch m.Config.MediaType {
	case ocispec.MediaTypeImageConfig, MediaTypeDockerConfig:
	case "":
		return bad("config has no media type")
	default:
		return bad("config media type %s is not a container image", m.Config.MediaType)
	}
	if err := m.Config.Digest.Validate(); err != nil {
		return bad("config digest %q: %v", m.Config.Digest, err)
	}
	if m.Config.Size < 0 {
		return bad("config size %d", m.Config.Size)
	}
	for _, l := range m.Layers {
		if err := l.Digest.Validate(); err != nil {
			return bad("layer digest %q: %v", l.Digest, err)
		}
		if l.Size < 0 {
			return bad("layer %s size %d", l.Digest, l.Size)
		}
	}
	r.Config = m.Config
	r.Layers = m.Layers
	if r.Layers == nil {
		r.Layers = []ocispec.Descriptor{}
	}
	return nil
}
