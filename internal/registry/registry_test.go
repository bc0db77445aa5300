package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/google/go-cmp/cmp"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// repoBlobs keeps blobs per repository (go-containerregistry's default
// handler shares them across repositories, which would hide mounts) and
// answers cross-repository mount requests, which its registry does not.
type repoBlobs struct {
	mu sync.Mutex
	m  map[string][]byte // "repo@digest"
}

func (b *repoBlobs) Stat(_ context.Context, repo string, h v1.Hash) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.m[repo+"@"+h.String()]
	if !ok {
		return 0, ggcrregistry.ErrNotFound
	}
	return int64(len(data)), nil
}

func (b *repoBlobs) Get(_ context.Context, repo string, h v1.Hash) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.m[repo+"@"+h.String()]
	if !ok {
		return nil, ggcrregistry.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (b *repoBlobs) Put(_ context.Context, repo string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// The registry names the repository of an upload PUT ".../blobs".
	b.m[strings.TrimSuffix(repo, "/blobs")+"@"+h.String()] = data
	return nil
}

// mountHandler answers POST .../blobs/uploads/?mount=D&from=REPO.
func (b *repoBlobs) mountHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method == http.MethodPost && q.Get("mount") != "" && strings.HasSuffix(r.URL.Path, "/blobs/uploads/") {
			repo := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/"), "/blobs/uploads/")
			b.mu.Lock()
			data, ok := b.m[q.Get("from")+"@"+q.Get("mount")]
			if ok {
				b.m[repo+"@"+q.Get("mount")] = data
			}
			b.mu.Unlock()
			if ok {
				w.Header().Set("Location", "/v2/"+repo+"/blobs/"+q.Get("mount"))
				w.Header().Set("Docker-Content-Digest", q.Get("mount"))
				w.WriteHeader(http.StatusCreated)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

type testRegistry struct {
	srv   *httptest.Server
	host  string
	blobs *repoBlobs
}

// newTestRegistry serves go-containerregistry's in-memory registry on
// 127.0.0.1, behind wrap (nil: none).
func newTestRegistry(t *testing.T, wrap func(http.Handler) http.Handler) *testRegistry {
	t.Helper()
	blobs := &repoBlobs{m: map[string][]byte{}}
	var h http.Handler = ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithBlobHandler(blobs))
	h = blobs.mountHandler(h)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testRegistry{srv: srv, host: srv.Listener.Addr().String(), blobs: blobs}
}

func newTestClient(t *testing.T) *Client {
	return NewClient(Options{ConfigDir: t.TempDir()})
}

func mustRef(t *testing.T, s string) Reference {
	t.Helper()
	r, err := ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// testImage is a random image with its blobs at hand.
type testImage struct {
	img       v1.Image
	manifest  []byte
	mediaType string
	config    ocispec.Descriptor
	layers    []ocispec.Descriptor
	content   map[digest.Digest][]byte
}

func newTestImage(t *testing.T, layers int) *testImage {
	t.Helper()
	img, err := random.Image(3000, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	return imageOf(t, img)
}

func imageOf(t *testing.T, img v1.Image) *testImage {
	t.Helper()
	ti := &testImage{img: img, content: map[digest.Digest][]byte{}}
	var err error
	if ti.manifest, err = img.RawManifest(); err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	ti.mediaType = string(mt)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	ti.config = ociDesc(m.Config)
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	ti.content[ti.config.Digest] = cfg
	for _, l := range m.Layers {
		d := ociDesc(l)
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := layer.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		ti.content[d.Digest] = data
		ti.layers = append(ti.layers, d)
	}
	return ti
}

func ociDesc(d v1.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: string(d.MediaType), Digest: digest.Digest(d.Digest.String()), Size: d.Size}
}

func (ti *testImage) digest() digest.Digest { return digest.FromBytes(ti.manifest) }

func (ti *testImage) blob(d ocispec.Descriptor, sources ...string) PushBlob {
	data := ti.content[d.Digest]
	return PushBlob{Desc: d, Sources: sources, Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

func (ti *testImage) request(ref Reference, rec *eventRecorder, sources ...string) PushRequest {
	req := PushRequest{Ref: ref, Config: ti.blob(ti.config, sources...), Manifest: ti.manifest, MediaType: ti.mediaType, Jobs: 2}
	for _, l := range ti.layers {
		req.Layers = append(req.Layers, ti.blob(l, sources...))
	}
	if rec != nil {
		req.Progress = rec.record
	}
	return req
}

// eventRecorder collects push progress from several goroutines.
type eventRecorder struct {
	mu     sync.Mutex
	events []ProgressEvent
}

func (r *eventRecorder) record(e ProgressEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// final is each digest's last action.
func (r *eventRecorder) final() map[digest.Digest]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[digest.Digest]string{}
	for _, e := range r.events {
		out[e.Digest] = e.Action
	}
	return out
}

func (r *eventRecorder) actions(d digest.Digest) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.Digest == d && (len(out) == 0 || out[len(out)-1] != e.Action) {
			out = append(out, e.Action)
		}
	}
	return out
}

func allLayers(ti *testImage, action string) map[digest.Digest]string {
	out := map[digest.Digest]string{}
	for _, l := range ti.layers {
		out[l.Digest] = action
	}
	return out
}

func TestPushResolveFetch(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t, nil)
	c := newTestClient(t)
	ti := newTestImage(t, 3)
	ref := mustRef(t, reg.host+"/app:1")

	rec := &eventRecorder{}
	got, err := c.Push(ctx, ti.request(ref, rec))
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if got != ti.digest() {
		t.Errorf("Push returned %s, want %s", got, ti.digest())
	}
	if diff := cmp.Diff(allLayers(ti, ActionPushed), rec.final()); diff != "" {
		t.Errorf("final progress (-want +got):\n%s", diff)
	}
	first := rec.actions(ti.layers[0].Digest)
	if len(first) < 3 || first[0] != ActionPreparing || first[1] != ActionWaiting || first[len(first)-1] != ActionPushed {
		t.Errorf("layer progress %v", first)
	}
	for _, e := range rec.events {
		if e.Digest == ti.config.Digest {
			t.Errorf("config reported: %+v", e)
		}
		if e.Action == ActionPushing && (e.Current < 0 || e.Current > e.Total) {
			t.Errorf("bad Pushing event %+v", e)
		}
	}

	res, err := c.Resolve(ctx, ref, nil)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	want := &Resolved{
		Ref:            ref,
		ManifestDigest: ti.digest(),
		MediaType:      ti.mediaType,
		Manifest:       ti.manifest,
		Config:         ti.config,
		Layers:         ti.layers,
		Platform:       DefaultPlatform(),
	}
	if diff := cmp.Diff(want, res, cmp.Comparer(func(a, b Reference) bool { return a == b })); diff != "" {
		t.Errorf("Resolve (-want +got):\n%s", diff)
	}

	// By digest too, with and without the tag.
	for _, r := range []Reference{ref.WithDigest(ti.digest()), ref.NameOnly().WithDigest(ti.digest())} {
		res, err := c.Resolve(ctx, r, nil)
		if err != nil {
			t.Fatalf("Resolve(%s): %v", r, err)
		}
		if res.ManifestDigest != ti.digest() {
			t.Errorf("Resolve(%s) = %s", r, res.ManifestDigest)
		}
	}

	for _, d := range append([]ocispec.Descriptor{ti.config}, ti.layers...) {
		rc, off, err := c.FetchBlob(ctx, ref, d.Digest, 0)
		if err != nil {
			t.Fatalf("FetchBlob(%s): %v", d.Digest, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil || off != 0 || n != d.Size {
			t.Errorf("FetchBlob(%s): %d bytes at %d, %v", d.Digest, n, off, err)
		}
		if got := digest.NewDigest(digest.SHA256, h); got != d.Digest {
			t.Errorf("FetchBlob(%s) content has digest %s", d.Digest, got)
		}
	}

	// Resuming: the tail from an offset, nothing at the end, an error past it.
	l := ti.layers[1]
	rc, off, err := c.FetchBlob(ctx, ref, l.Digest, 100)
	if err != nil {
		t.Fatalf("FetchBlob at 100: %v", err)
	}
	tail, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || off != 100 || !bytes.Equal(tail, ti.content[l.Digest][100:]) {
		t.Errorf("FetchBlob at 100: offset %d, %d bytes (want %d), %v", off, len(tail), l.Size-100, err)
	}
	rc, off, err = c.FetchBlob(ctx, ref, l.Digest, l.Size)
	if err != nil || off != l.Size {
		t.Fatalf("FetchBlob at the end: %d, %v", off, err)
	}
	if rest, _ := io.ReadAll(rc); len(rest) != 0 {
		t.Errorf("FetchBlob at the end gave %d bytes", len(rest))
	}
	rc.Close()
	if _, _, err := c.FetchBlob(ctx, ref, l.Digest, l.Size+1); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("FetchBlob past the end: %v", err)
	}

	missing := digest.FromString("missing")
	if _, _, err := c.FetchBlob(ctx, ref, missing, 0); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("FetchBlob(missing): %v", err)
	}
	if ok, err := c.BlobExists(ctx, ref, l.Digest); !ok || err != nil {
		t.Errorf("BlobExists(layer) = %v, %v", ok, err)
	}
	if ok, err := c.BlobExists(ctx, ref, missing); ok || err != nil {
		t.Errorf("BlobExists(missing) = %v, %v", ok, err)
	}
	if _, _, err := c.FetchBlob(ctx, ref, "sha256:../../x", 0); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("FetchBlob(bad digest): %v", err)
	}
}

func TestPushTwiceAndMount(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t, nil)
	c := newTestClient(t)
	ti := newTestImage(t, 3)
	ref := mustRef(t, reg.host+"/a/one:1")
	if _, err := c.Push(ctx, ti.request(ref, nil)); err != nil {
		t.Fatalf("first push: %v", err)
	}

	rec := &eventRecorder{}
	if _, err := c.Push(ctx, ti.request(ref, rec)); err != nil {
		t.Fatalf("second push: %v", err)
	}
	if diff := cmp.Diff(allLayers(ti, ActionAlreadyExists), rec.final()); diff != "" {
		t.Errorf("second push progress (-want +got):\n%s", diff)
	}

	// Another repository of the same registry: mounted from the first. A
	// source on another registry and a malformed one are ignored.
	other := mustRef(t, reg.host+"/b/two:1")
	rec = &eventRecorder{}
	if _, err := c.Push(ctx, ti.request(other, rec, "elsewhere.example/a/one", "Bad::Name", reg.host+"/a/one")); err != nil {
		t.Fatalf("push with sources: %v", err)
	}
	if diff := cmp.Diff(allLayers(ti, ActionMountedFrom+"a/one"), rec.final()); diff != "" {
		t.Errorf("mount progress (-want +got):\n%s", diff)
	}
	res, err := c.Resolve(ctx, other, nil)
	if err != nil {
		t.Fatalf("Resolve after mount: %v", err)
	}
	rc, _, err := c.FetchBlob(ctx, other, res.Layers[0].Digest, 0)
	if err != nil {
		t.Fatalf("FetchBlob after mount: %v", err)
	}
	rc.Close()

	// A source that does not hold the blob: the registry opens an upload
	// instead, which is used.
	third := mustRef(t, reg.host+"/c/three:1")
	rec = &eventRecorder{}
	if _, err := c.Push(ctx, ti.request(third, rec, reg.host+"/nothing/here")); err != nil {
		t.Fatalf("push with a useless source: %v", err)
	}
	if diff := cmp.Diff(allLayers(ti, ActionPushed), rec.final()); diff != "" {
		t.Errorf("fallback progress (-want +got):\n%s", diff)
	}
}

func TestPushErrors(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t, nil)
	c := newTestClient(t)
	ti := newTestImage(t, 2)
	ref := mustRef(t, reg.host+"/app:1")

	// Content shorter than its descriptor.
	req := ti.request(ref, nil)
	req.Layers[1].Open = func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("short")), nil
	}
	if _, err := c.Push(ctx, req); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "content ended after 5 of") {
		t.Errorf("short content: %v", err)
	}

	// Wrong content of the right length: the registry refuses it. (Each
	// case uses its own repository: blobs pushed before a failure stay.)
	req = ti.request(mustRef(t, reg.host+"/wrong:1"), nil)
	req.Layers[0].Open = func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(make([]byte, ti.layers[0].Size))), nil
	}
	if _, err := c.Push(ctx, req); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("wrong content: %v", err)
	}

	// Open failing keeps its class.
	req = ti.request(mustRef(t, reg.host+"/gone:1"), nil)
	req.Layers[0].Open = func(context.Context) (io.ReadCloser, error) {
		return nil, errdefs.NotFound("blob gone")
	}
	if _, err := c.Push(ctx, req); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Open failing: %v", err)
	}

	// A reference whose digest is not the manifest's.
	req = ti.request(ref.WithDigest(digest.FromString("other")), nil)
	if _, err := c.Push(ctx, req); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("digest mismatch: %v", err)
	}
}

func TestResolveIndex(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t, nil)
	c := newTestClient(t)
	amd, arm := newTestImage(t, 1), newTestImage(t, 2)
	repo := mustRef(t, reg.host+"/multi:1")

	// The platform images by digest, then the index under the tag, all
	// through Push.
	for _, ti := range []*testImage{amd, arm} {
		if _, err := c.Push(ctx, ti.request(repo.NameOnly().WithDigest(ti.digest()), nil)); err != nil {
			t.Fatalf("push platform image: %v", err)
		}
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd.img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm.img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	rawIdx, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	idxType, _ := idx.MediaType()
	idxDigest, err := c.Push(ctx, PushRequest{Ref: repo, Manifest: rawIdx, MediaType: string(idxType)})
	if err != nil {
		t.Fatalf("push index: %v", err)
	}

	for _, tt := range []struct {
		platform ocispec.Platform
		want     *testImage
	}{
		{ocispec.Platform{OS: "linux", Architecture: "arm64"}, arm},
		{ocispec.Platform{OS: "linux", Architecture: "aarch64"}, arm},
		{ocispec.Platform{OS: "linux", Architecture: "amd64"}, amd},
	} {
		res, err := c.Resolve(ctx, repo, &tt.platform)
		if err != nil {
			t.Fatalf("Resolve(%s): %v", FormatPlatform(tt.platform), err)
		}
		if res.ManifestDigest != tt.want.digest() || res.IndexDigest != idxDigest || !bytes.Equal(res.Index, rawIdx) ||
			!bytes.Equal(res.Manifest, tt.want.manifest) || len(res.Layers) != len(tt.want.layers) {
			t.Errorf("Resolve(%s) = manifest %s index %s, want %s in %s", FormatPlatform(tt.platform), res.ManifestDigest, res.IndexDigest, tt.want.digest(), idxDigest)
		}
		if !cmp.Equal(NormalizePlatform(res.Platform), NormalizePlatform(tt.platform)) {
			t.Errorf("Resolve(%s) platform %+v", FormatPlatform(tt.platform), res.Platform)
		}
	}
	if runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64" {
		res, err := c.Resolve(ctx, repo, nil)
		if err != nil {
			t.Fatalf("Resolve(default platform): %v", err)
		}
		if res.Platform.Architecture != runtime.GOARCH {
			t.Errorf("default platform resolved to %+v", res.Platform)
		}
	}

	_, err = c.Resolve(ctx, repo, &ocispec.Platform{OS: "linux", Architecture: "s390x"})
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("missing platform: %v", err)
	}
	if want := "no manifest for linux/s390x in " + reg.host + "/multi:1"; err.Error() != want {
		t.Errorf("missing platform: %q, want %q", err, want)
	}
}

func TestResolveNotFound(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t, nil)
	c := newTestClient(t)
	ti := newTestImage(t, 1)
	if _, err := c.Push(ctx, ti.request(mustRef(t, reg.host+"/app:1"), nil)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ ref, want string }{
		{reg.host + "/app:9", "manifest for " + reg.host + "/app:9 not found: manifest unknown"},
		{reg.host + "/app@" + testDigest, "manifest for " + reg.host + "/app@" + testDigest + " not found: manifest unknown"},
		{reg.host + "/nothing:1", "manifest for " + reg.host + "/nothing:1 not found: name unknown: Unknown name"},
	} {
		_, err := c.Resolve(ctx, mustRef(t, tt.ref), nil)
		if !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Resolve(%s): %v is not NotFound", tt.ref, err)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Resolve(%s) = %q, want %q", tt.ref, err, tt.want)
		}
	}
}

func TestRegistryDown(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(http.NotFoundHandler())
	host := srv.Listener.Addr().String()
	srv.Close()
	c := newTestClient(t)
	ref := mustRef(t, host+"/app:1")
	want := "registry " + host + " is not reachable: connection refused"

	_, err := c.Resolve(ctx, ref, nil)
	if !errors.Is(err, errdefs.ErrUnavailable) || err.Error() != want {
		t.Errorf("Resolve: %v, want Unavailable %q", err, want)
	}
	if _, _, err := c.FetchBlob(ctx, ref, testDigest, 0); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("FetchBlob: %v", err)
	}
	ti := newTestImage(t, 1)
	if _, err := c.Push(ctx, ti.request(ref, nil)); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("Push: %v", err)
	}
	if err := c.Login(ctx, host, "u", "p"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("Login: %v", err)
	}
}

func TestServerErrors(t *testing.T) {
	ctx := context.Background()
	var fail atomic.Bool
	reg := newTestRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if fail.Load() && r.URL.Path != "/v2/" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, `{"errors":[{"code":"UNAVAILABLE","message":"maintenance"}]}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	c := newTestClient(t)
	ref := mustRef(t, reg.host+"/app:1")
	fail.Store(true)
	_, err := c.Resolve(ctx, ref, nil)
	want := "registry " + reg.host + " returned 503 Service Unavailable: unavailable: maintenance"
	if !errors.Is(err, errdefs.ErrUnavailable) || err.Error() != want {
		t.Errorf("Resolve on 503: %v, want %q", err, want)
	}
}

// tamper rewrites manifest bodies without touching Docker-Content-Digest.
func tamper(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/manifests/") {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := append([]byte(" "), rec.Body.Bytes()...) // still valid JSON, another digest
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

func TestTamperedManifest(t *testing.T) {
	ctx := context.Background()
	var on atomic.Bool
	reg := newTestRegistry(t, func(next http.Handler) http.Handler {
		tampered := tamper(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if on.Load() {
				tampered.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	c := newTestClient(t)
	ti := newTestImage(t, 1)
	ref := mustRef(t, reg.host+"/app:1")
	if _, err := c.Push(ctx, ti.request(ref, nil)); err != nil {
		t.Fatal(err)
	}
	on.Store(true)
	for _, r := range []Reference{ref, ref.WithDigest(ti.digest())} {
		_, err := c.Resolve(ctx, r, nil)
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "digest mismatch") {
			t.Errorf("Resolve(%s) of a tampered manifest: %v", r, err)
		}
	}
}

func TestConcurrentFetch(t *testing.T) {
	// Many blob fetches at once share one handshake and one Client.
	ctx := context.Background()
	var pings atomic.Int32
	reg := newTestRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/" {
				pings.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	})
	c := newTestClient(t)
	ti := newTestImage(t, 4)
	ref := mustRef(t, reg.host+"/app:1")
	if _, err := c.Push(ctx, ti.request(ref, nil)); err != nil {
		t.Fatal(err)
	}
	before := pings.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(l ocispec.Descriptor) {
			defer wg.Done()
			rc, _, err := c.FetchBlob(ctx, ref, l.Digest, 0)
			if err != nil {
				errs <- err
				return
			}
			defer rc.Close()
			if got, _ := digest.FromReader(rc); got != l.Digest {
				errs <- fmt.Errorf("blob %s read as %s", l.Digest, got)
			}
		}(ti.layers[i%len(ti.layers)])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// One handshake for all; go-containerregistry may race a second ping.
	if n := pings.Load() - before; n < 1 || n > 2 {
		t.Errorf("%d pings for 32 concurrent fetches", n)
	}
}

func TestPushChunkedFallback(t *testing.T) {
	// A registry that takes no body on the upload PUT gets Docker's PATCH.
	ctx := context.Background()
	var patches, refused atomic.Int32
	reg := newTestRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Method == http.MethodPatch:
				patches.Add(1)
			case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") && r.ContentLength > 0:
				refused.Add(1)
				w.WriteHeader(http.StatusMethodNotAllowed)
				fmt.Fprint(w, `{"errors":[{"code":"UNSUPPORTED","message":"no monolithic uploads"}]}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	c := newTestClient(t)
	ti := newTestImage(t, 3)
	ref := mustRef(t, reg.host+"/app:1")
	rec := &eventRecorder{}
	if _, err := c.Push(ctx, ti.request(ref, rec)); err != nil {
		t.Fatalf("Push: %v", err)
	}
	if diff := cmp.Diff(allLayers(ti, ActionPushed), rec.final()); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	if patches.Load() != 4 || refused.Load() == 0 || refused.Load() > 2 {
		t.Errorf("%d PATCHes (want 4), %d refused PUTs", patches.Load(), refused.Load())
	}
	if _, err := c.Resolve(ctx, ref, nil); err != nil {
		t.Errorf("Resolve: %v", err)
	}
}
