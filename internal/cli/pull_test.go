package cli_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// imgMemRegistry is fixture.MemRegistry with a working registry behind the
// middleware. fixture.MemRegistry builds go-containerregistry's registry
// with Logger(nil), and that registry logs every request through its
// logger: each request panics on the nil *log.Logger. Until the fixture
// passes a discarding logger, this wrap ignores the broken handler it is
// given and serves its own.
func imgMemRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	return fixture.MemRegistry(t, func(http.Handler) http.Handler {
		var h http.Handler = ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
		if wrap != nil {
			h = wrap(h)
		}
		return h
	})
}

// imgLayerFromTar makes a gzip layer from a tar's bytes (compressed once,
// fast, so that big layers cost little to make).
func imgLayerFromTar(t *testing.T, tarData []byte) v1.Layer {
	t.Helper()
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if _, err := zw.Write(tarData); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	data := gz.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// imgRandomLayer is a gzip layer holding one file of size random
// (incompressible) bytes.
func imgRandomLayer(t *testing.T, size int) v1.Layer {
	t.Helper()
	content := make([]byte, size)
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	for i := 0; i+8 <= len(content); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			content[i+j] = byte(v >> (8 * j))
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("random-%d.bin", rng.Uint32()), Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg})
	tw.Write(content)
	tw.Close()
	return imgLayerFromTar(t, buf.Bytes())
}

// imgImage stacks layers into a linux/amd64 image.
func imgImage(t *testing.T, base v1.Image, layers ...v1.Layer) v1.Image {
	t.Helper()
	if base == nil {
		base = empty.Image
	}
	img, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Cmd = []string{"sh"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// imgSeed pushes img to host/repo with go-containerregistry.
func imgSeed(t *testing.T, host, repo string, img v1.Image, opts ...remote.Option) {
	t.Helper()
	ref, err := name.ParseReference(host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		t.Fatalf("seed %s: %v", ref, err)
	}
}

// imgIDs are an image's ID (config digest), manifest digest and diff IDs.
func imgIDs(t *testing.T, img v1.Image) (id, manifest string, diffIDs []string) {
	t.Helper()
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range cf.RootFS.DiffIDs {
		diffIDs = append(diffIDs, h.String())
	}
	return cfg.String(), d.String(), diffIDs
}

// imgChainIDs computes chain IDs (hex) from diff IDs.
func imgChainIDs(diffIDs []string) []string {
	var out []string
	prev := ""
	for _, d := range diffIDs {
		c := d
		if prev != "" {
			c = v1.Hash{Algorithm: "sha256", Hex: imgSHA256Hex(prev + " " + d)}.String()
		}
		out = append(out, strings.TrimPrefix(c, "sha256:"))
		prev = c
	}
	return out
}

func imgSHA256Hex(s string) string {
	h, _, _ := v1.SHA256(strings.NewReader(s))
	return h.Hex
}

// imgBlobGet returns the digest of a blob GET ("" for anything else).
func imgBlobGet(r *http.Request) string {
	if r.Method != http.MethodGet {
		return ""
	}
	i := strings.LastIndex(r.URL.Path, "/blobs/")
	if i < 0 || !strings.HasPrefix(r.URL.Path, "/v2/") {
		return ""
	}
	return r.URL.Path[i+len("/blobs/"):]
}

// imgSlowWriter passes a response through in chunks with a pause between
// them, counting the bytes sent.
type imgSlowWriter struct {
	http.ResponseWriter
	chunk int
	pause time.Duration
	sent  *atomic.Int64
	slow  *atomic.Bool
}

func (w *imgSlowWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), w.chunk)
		m, err := w.ResponseWriter.Write(p[:n])
		written += m
		w.sent.Add(int64(m))
		if err != nil {
			return written, err
		}
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		p = p[n:]
		if w.slow.Load() {
			time.Sleep(w.pause)
		}
	}
	return written, nil
}

// imgSlowBlobs is a middleware that sends blob bodies at about
// chunk/pause bytes a second per stream while slow is set.
func imgSlowBlobs(chunk int, pause time.Duration, sent *atomic.Int64, slow *atomic.Bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if imgBlobGet(r) == "" {
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(&imgSlowWriter{ResponseWriter: w, chunk: chunk, pause: pause, sent: sent, slow: slow}, r)
		})
	}
}

// busybox → push to a distribution registry → remove → pull gives back the
// same image, with Docker's progress lines; pushing and pulling again does
// no work.
func TestImagePushPullRoundTrip(t *testing.T) {
	g := fixture.NewDaemon(t)
	host := fixture.DistributionRegistry(t)
	ref := host + "/test/bb:1"
	id := imgBusybox(t, g)
	g.MustGantry("tag", "busybox", ref)

	out := g.MustGantry("push", ref)
	if !strings.Contains(out, ": Pushed") {
		t.Errorf("push output has no Pushed layer:\n%s", out)
	}
	m := regexp.MustCompile(`(?m)^1: digest: (sha256:[0-9a-f]{64}) size: (\d+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("push output has no \"1: digest: sha256:... size: N\" line:\n%s", out)
	}
	pushed := m[1]

	out = g.MustGantry("push", ref)
	if !strings.Contains(out, ": Layer already exists") || strings.Contains(out, ": Pushed") {
		t.Errorf("second push: want \"Layer already exists\" and nothing pushed:\n%s", out)
	}
	if !strings.Contains(out, "1: digest: "+pushed) {
		t.Errorf("second push gives another digest than %s:\n%s", pushed, out)
	}

	out = g.MustGantry("rmi", "-f", id)
	if !strings.Contains(out, "Deleted: "+id) {
		t.Fatalf("rmi -f %s:\n%s", id, out)
	}
	if l := imgLines(g.MustGantry("images", "-q", "-a")); len(l) != 0 {
		t.Fatalf("images after rmi: %q", l)
	}
	if d := imgLayerDirs(t, g); len(d) != 0 {
		t.Fatalf("layers left after rmi: %q", d)
	}

	out = g.MustGantry("pull", ref)
	lines := imgLines(out)
	for _, want := range []string{": Pulling fs layer", ": Pull complete", "Digest: " + pushed, "Status: Downloaded newer image for " + ref} {
		if !strings.Contains(out, want) {
			t.Errorf("pull output lacks %q:\n%s", want, out)
		}
	}
	if len(lines) == 0 || lines[len(lines)-1] != ref {
		t.Errorf("pull: last line should be the full reference %s:\n%s", ref, out)
	}
	info := imgInspectOne(t, g, ref)
	if info.ID != id {
		t.Errorf("pulled image ID %s, pushed %s", info.ID, id)
	}
	if !slices.Contains(info.RepoDigests, ref[:strings.LastIndex(ref, ":")]+"@"+pushed) {
		t.Errorf("inspect RepoDigests = %q, want %s@%s", info.RepoDigests, ref, pushed)
	}
	if l := imgListed(t, g); !slices.Equal(l, []string{host + "/test/bb:1"}) {
		t.Errorf("images after pull = %q", l)
	}

	out = g.MustGantry("pull", ref)
	if !strings.Contains(out, "Status: Image is up to date for "+ref) || strings.Contains(out, "Pulling fs layer") {
		t.Errorf("second pull: want \"Status: Image is up to date\" and no download:\n%s", out)
	}
	if q := strings.TrimSpace(g.MustGantry("pull", "-q", ref)); q != ref {
		t.Errorf("pull -q printed %q, want only %s", q, ref)
	}
	imgCheckClean(t, g)
}

// A random 4-layer image seeded with go-containerregistry pulls with its
// layers in order, pushes to another repository without uploading the
// layers again, and goes both ways with skopeo.
func TestImageMultiLayerAndSkopeo(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Fatalf("skopeo is not installed (make deps installs it): %v", err)
	}
	g := fixture.NewDaemon(t)
	host := imgMemRegistry(t, nil)
	img, err := random.Image(64<<10, 4)
	if err != nil {
		t.Fatal(err)
	}
	imgSeed(t, host, "multi/src:1", img)
	id, manifest, diffIDs := imgIDs(t, img)

	src := host + "/multi/src:1"
	out := g.MustGantry("pull", src)
	if n := strings.Count(out, ": Pull complete"); n != 4 {
		t.Errorf("pull: %d layers complete, want 4:\n%s", n, out)
	}
	if !strings.Contains(out, "Digest: "+manifest) {
		t.Errorf("pull: want \"Digest: %s\":\n%s", manifest, out)
	}
	info := imgInspectOne(t, g, src)
	if info.ID != id {
		t.Errorf("inspect Id = %s, want the config digest %s", info.ID, id)
	}
	if !slices.Equal(info.RootFS.Layers, diffIDs) {
		t.Errorf("inspect RootFS.Layers =\n%q\nwant the image's diff IDs in order\n%q", info.RootFS.Layers, diffIDs)
	}
	if dirs := imgLayerDirs(t, g); !imgSameSet(dirs, imgChainIDs(diffIDs)) {
		t.Errorf("snapshots/layers = %q, want the chain IDs %q", dirs, imgChainIDs(diffIDs))
	}

	dst := host + "/multi/dst:1"
	g.MustGantry("tag", src, dst)
	out = g.MustGantry("push", dst)
	reused := strings.Count(out, ": Mounted from") + strings.Count(out, ": Layer already exists")
	if reused != 4 || strings.Contains(out, ": Pushed") {
		t.Errorf("push to another repository: want the 4 layers mounted or already there, none uploaded:\n%s", out)
	}
	if !strings.Contains(out, "1: digest: "+manifest) {
		t.Errorf("push of an unchanged pulled image should keep its manifest digest %s:\n%s", manifest, out)
	}

	// gantry → skopeo
	res := imgSkopeo(t, "inspect", "--tls-verify=false", "docker://"+dst)
	var sk struct {
		Digest string
		Layers []string
	}
	if err := json.Unmarshal([]byte(res), &sk); err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, res)
	}
	if sk.Digest != manifest || len(sk.Layers) != 4 {
		t.Errorf("skopeo inspect %s: digest %s, %d layers; want %s, 4", dst, sk.Digest, len(sk.Layers), manifest)
	}
	oci := t.TempDir()
	imgSkopeo(t, "copy", "--src-tls-verify=false", "docker://"+dst, "oci:"+oci+":t")
	// skopeo → gantry
	other := host + "/multi/other:1"
	imgSkopeo(t, "copy", "--dest-tls-verify=false", "oci:"+oci+":t", "docker://"+other)
	out = g.MustGantry("pull", other)
	if !strings.Contains(out, "Status: ") {
		t.Errorf("pull of skopeo's copy:\n%s", out)
	}
	if got := imgInspectOne(t, g, other); !slices.Equal(got.RootFS.Layers, diffIDs) {
		t.Errorf("skopeo's copy pulled with layers %q, want %q", got.RootFS.Layers, diffIDs)
	}
	imgCheckClean(t, g)
}

func imgSkopeo(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("skopeo", args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// imgSameSet reports whether a and b hold the same strings, each as often.
func imgSameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// Two gantry processes pulling at once two images that share their base
// layer both succeed, and the base layer is unpacked once.
func TestImageConcurrentPullsShareBase(t *testing.T) {
	var sent atomic.Int64
	var slow atomic.Bool
	slow.Store(true)
	// About 2 MB/s per stream: each pull takes a second or two, so the
	// two overlap.
	host := imgMemRegistry(t, imgSlowBlobs(64<<10, 30*time.Millisecond, &sent, &slow))
	base := imgRandomLayer(t, 2<<20)
	a := imgImage(t, nil, base, imgRandomLayer(t, 512<<10))
	b := imgImage(t, nil, base, imgRandomLayer(t, 512<<10))
	imgSeed(t, host, "shared/a:1", a)
	imgSeed(t, host, "shared/b:1", b)
	_, _, diffA := imgIDs(t, a)
	_, _, diffB := imgIDs(t, b)

	g := fixture.NewDaemon(t)
	var wg sync.WaitGroup
	results := make([]fixture.Result, 2)
	for i, ref := range []string{host + "/shared/a:1", host + "/shared/b:1"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = g.Gantry("pull", ref)
		}()
	}
	wg.Wait()
	for i, res := range results {
		if res.Code != 0 {
			t.Errorf("concurrent pull %d: exit %d\nstdout: %s\nstderr: %s", i, res.Code, res.Stdout, res.Stderr)
		}
	}
	want := imgChainIDs(diffA)
	want = append(want, imgChainIDs(diffB)...)
	slices.Sort(want)
	want = slices.Compact(want)
	if len(want) != 3 {
		t.Fatalf("test images should share one base layer: chain IDs %q", want)
	}
	if dirs := imgLayerDirs(t, g); !imgSameSet(dirs, want) {
		t.Errorf("snapshots/layers = %q, want each of the %d distinct chain IDs once: %q", dirs, len(want), want)
	}
	if l := imgListed(t, g); !imgSameSet(l, []string{host + "/shared/a:1", host + "/shared/b:1"}) {
		t.Errorf("images = %q, want both", l)
	}
	imgCheckClean(t, g)
}

// A pull cut off in the middle of a layer fails with one line; the next pull
// resumes the layer with a Range request instead of starting over.
func TestImagePullResumesInterruptedLayer(t *testing.T) {
	big := imgRandomLayer(t, 8<<20)
	bigDigest, err := big.Digest()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	cut := false
	var ranges []string
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if imgBlobGet(r) != bigDigest.String() {
				next.ServeHTTP(w, r)
				return
			}
			mu.Lock()
			rng := r.Header.Get("Range")
			ranges = append(ranges, rng)
			first := !cut && rng == ""
			if first {
				cut = true
			}
			mu.Unlock()
			if !first {
				next.ServeHTTP(w, r)
				return
			}
			// Send half the blob, then drop the connection.
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(rec.Code)
			w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				panic(http.ErrAbortHandler)
			}
			conn.Close()
		})
	}
	host := imgMemRegistry(t, wrap)
	img := imgImage(t, nil, imgRandomLayer(t, 16<<10), big)
	imgSeed(t, host, "resume/img:1", img)
	id, _, _ := imgIDs(t, img)
	ref := host + "/resume/img:1"

	g := fixture.NewDaemon(t)
	res := g.Gantry("pull", ref)
	imgFails(t, "interrupted pull", res, "connection closed", "unexpected EOF", "connection reset")
	if !strings.Contains(res.Stderr, "resume/img") {
		t.Errorf("interrupted pull: error %q does not name the image", res.Stderr)
	}
	if l := imgLines(g.MustGantry("images", "-q")); len(l) != 0 {
		t.Errorf("images after the interrupted pull: %q", l)
	}

	out := g.MustGantry("pull", ref)
	if !strings.Contains(out, "Status: Downloaded newer image for "+ref) {
		t.Errorf("second pull:\n%s", out)
	}
	if got := imgInspectOne(t, g, ref).ID; got != id {
		t.Errorf("pulled ID %s, want %s", got, id)
	}
	mu.Lock()
	defer mu.Unlock()
	resumed := false
	for _, r := range ranges {
		var start int64
		if _, err := fmt.Sscanf(r, "bytes=%d-", &start); err == nil && start > 0 {
			resumed = true
		}
	}
	if !resumed {
		t.Errorf("the second pull did not resume the layer: Range headers of its GETs: %q", ranges)
	}
	if left := imgIngests(t, g); len(left) != 0 {
		t.Errorf("content/ingest after the completed pull: %q", left)
	}
	imgCheckClean(t, g)
}

// kill -9 of the daemon in the middle of a pull leaves a data root that
// checks clean and a pull that completes; the client says the daemon went
// away.
func TestImagePullKilled(t *testing.T) {
	var sent atomic.Int64
	var slow atomic.Bool
	slow.Store(true)
	host := imgMemRegistry(t, imgSlowBlobs(64<<10, 10*time.Millisecond, &sent, &slow))
	img := imgImage(t, nil, imgRandomLayer(t, 8<<20), imgRandomLayer(t, 8<<20), imgRandomLayer(t, 8<<20))
	imgSeed(t, host, "kill/img:1", img)
	id, _, _ := imgIDs(t, img)
	ref := host + "/kill/img:1"

	g := fixture.NewDaemon(t)
	cmd := g.GantryCommand("pull", ref)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for sent.Load() < 8<<20 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if sent.Load() < 8<<20 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the pull did not get going in 20s:\n%s", out.String())
	}
	g.Kill()
	err := cmd.Wait()
	if err == nil {
		t.Fatalf("the pull succeeded although its daemon was killed:\n%s", out.String())
	}
	if last := imgLines(out.String()); len(last) == 0 || !strings.HasPrefix(last[len(last)-1], "gantry: ") {
		t.Errorf("the pull whose daemon was killed does not end with one error line:\n%s", out.String())
	}
	slow.Store(false)

	res := g.Gantry("system", "check")
	if res.Code != 0 || !strings.Contains(res.Stdout, "no problems found") {
		t.Errorf("system check after kill -9: exit %d\nstdout: %s\nstderr: %s", res.Code, res.Stdout, res.Stderr)
	}
	g.Start()
	if l := imgLines(g.MustGantry("images", "-q")); len(l) != 0 {
		t.Errorf("images lists the killed pull's image: %q", l)
	}
	pull := g.MustGantry("pull", ref)
	if !strings.Contains(pull, "Status: Downloaded newer image for "+ref) {
		t.Errorf("pull after kill -9:\n%s", pull)
	}
	if l := imgListed(t, g); !slices.Equal(l, []string{ref}) {
		t.Errorf("images after the pull = %q", l)
	}
	if got := imgInspectOne(t, g, ref).ID; got != id {
		t.Errorf("pulled ID %s, want %s", got, id)
	}
	if left := imgTempFiles(t, g); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	imgCheckClean(t, g)
}
