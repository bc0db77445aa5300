package cli_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// imgNoTrace checks that a failed pull left nothing: no image listed, no
// unpacked layer beyond those in keep, no ingest, no temporary file, and a
// clean system check.
func imgNoTrace(t *testing.T, g *fixture.Daemon, keep ...string) {
	t.Helper()
	if l := imgLines(g.MustGantry("images", "-a", "-q")); len(l) != 0 {
		t.Errorf("images lists %q after the failure", l)
	}
	for _, d := range imgLayerDirs(t, g) {
		if !strings.Contains(strings.Join(keep, " "), d) {
			t.Errorf("layer %s is unpacked after the failure", d)
		}
	}
	if left := imgIngests(t, g); len(left) != 0 {
		t.Errorf("content/ingest keeps %q after a validation failure", left)
	}
	if left := imgTempFiles(t, g); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	imgCheckClean(t, g)
}

// imgRewrite is a middleware that runs the registry into a recorder and lets
// edit change what goes back for the requests it picks.
func imgRewrite(pick func(r *http.Request) bool, edit func(h http.Header, body []byte) []byte) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !pick(r) {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			if rec.Code == http.StatusOK || rec.Code == http.StatusPartialContent {
				body = edit(rec.Header(), bytes.Clone(body))
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(rec.Code)
			if r.Method != http.MethodHead {
				w.Write(body)
			}
		})
	}
}

// imgIsManifestGet picks manifest GETs.
func imgIsManifestGet(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/")
}

// Bad references and unreachable or missing images fail with one line and
// leave nothing.
func TestImageBadReferenceAndRegistry(t *testing.T) {
	host := imgMemRegistry(t, nil)
	img := imgImage(t, nil, imgRandomLayer(t, 4<<10))
	imgSeed(t, host, "known/img:1", img)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	cases := []struct {
		name  string
		ref   string
		wants []string
		names string // the error must name this
	}{
		{"uppercase", "Busybox", []string{"invalid reference format"}, ""},
		{"double colon", "a::b", []string{"invalid reference format"}, ""},
		{"unknown tag", host + "/known/img:nope", []string{"manifest unknown", "not found"}, "known/img:nope"},
		{"unknown repository", host + "/unknown/img:1", []string{"manifest unknown", "not found"}, "unknown/img:1"},
		{"unknown digest", host + "/known/img@sha256:" + strings.Repeat("ab", 32), []string{"manifest unknown", "not found"}, "known/img@sha256:abab"},
		{"registry down", closed + "/x/y:1", []string{"not reachable", "connection refused"}, closed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := fixture.NewDaemon(t)
			res := g.Gantry("pull", tc.ref)
			imgFails(t, "pull "+tc.ref, res, tc.wants...)
			if tc.names != "" && !strings.Contains(res.Stderr, tc.names) {
				t.Errorf("pull %s: error %q does not name %s", tc.ref, res.Stderr, tc.names)
			}
			imgNoTrace(t, g)
		})
	}

	t.Run("rmi unknown", func(t *testing.T) {
		g := fixture.NewDaemon(t)
		res := g.Gantry("rmi", "nosuchimage")
		// rmi words its per-image errors as the docker CLI does.
		imgFailsPrefix(t, "rmi nosuchimage", res, "Error response from daemon: ", "No such image: nosuchimage")
		res = g.Gantry("image", "inspect", "nosuchimage")
		if res.Code == 0 || !strings.Contains(res.Stderr, "No such image: nosuchimage") {
			t.Errorf("image inspect nosuchimage: exit %d, stderr %q", res.Code, res.Stderr)
		}
		imgNoTrace(t, g)
	})
}

// A registry that wants basic auth: the pull is refused with a hint to log
// in, works after login, and is refused again after logout.
func TestImageBadUnauthorized(t *testing.T) {
	const user, pass = "alice", "s3cret"
	requireAuth := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="gantry-test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	host := imgMemRegistry(t, requireAuth)
	img := imgImage(t, nil, imgRandomLayer(t, 4<<10))
	imgSeed(t, host, "private/img:1", img, remote.WithAuth(&authn.Basic{Username: user, Password: pass}))
	ref := host + "/private/img:1"
	g := fixture.NewDaemon(t)

	res := g.Gantry("pull", ref)
	imgFails(t, "pull without login", res, "unauthorized", "denied")
	if !strings.Contains(res.Stderr, "gantry login "+host) {
		t.Errorf("pull without login: error %q does not say to run `gantry login %s`", res.Stderr, host)
	}
	imgNoTrace(t, g)

	res = g.Gantry("login", "-u", user, "-p", "wrong", host)
	imgFails(t, "login with a wrong password", res, "incorrect username or password", "unauthorized")

	out := g.MustGantry("login", "-u", user, "-p", pass, host)
	if !strings.Contains(out, "Login Succeeded") {
		t.Errorf("login printed %q", out)
	}
	cfgPath := filepath.Join(g.DataRoot, "docker-config", "config.json")
	if data, err := os.ReadFile(cfgPath); err != nil || !strings.Contains(string(data), host) {
		t.Errorf("after login %s has no entry for %s: %v\n%s", cfgPath, host, err, data)
	}
	out = g.MustGantry("pull", ref)
	if !strings.Contains(out, "Status: Downloaded newer image for "+ref) {
		t.Errorf("pull after login:\n%s", out)
	}

	out = g.MustGantry("logout", host)
	if !strings.Contains(out, "Removing login credentials for "+host) {
		t.Errorf("logout printed %q", out)
	}
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Auths map[string]json.RawMessage `json:"auths"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("%s: %v", cfgPath, err)
	}
	if _, ok := cfg.Auths[host]; ok {
		t.Errorf("logout left the credentials for %s in %s", host, cfgPath)
	}
	g.MustGantry("rmi", ref)
	res = g.Gantry("pull", ref)
	imgFails(t, "pull after logout", res, "unauthorized", "denied")
}

// A manifest whose bytes do not match its digest is refused before anything
// is downloaded.
func TestImageBadManifestDigest(t *testing.T) {
	// Tampering keeps the JSON valid: a space before the final brace.
	tamper := func(keepHeader bool) func(http.Header, []byte) []byte {
		return func(h http.Header, body []byte) []byte {
			if !keepHeader {
				h.Del("Docker-Content-Digest")
			}
			i := bytes.LastIndexByte(body, '}')
			return append(append(body[:i:i], ' '), body[i:]...)
		}
	}
	for _, tc := range []struct {
		name     string
		byDigest bool
	}{
		{"by tag, registry's digest header kept", false},
		{"by digest, no digest header", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := imgMemRegistry(t, imgRewrite(imgIsManifestGet, tamper(!tc.byDigest)))
			img := imgImage(t, nil, imgRandomLayer(t, 4<<10))
			imgSeed(t, host, "tampered/img:1", img)
			_, manifest, _ := imgIDs(t, img)
			ref := host + "/tampered/img:1"
			if tc.byDigest {
				ref = host + "/tampered/img@" + manifest
			}
			g := fixture.NewDaemon(t)
			res := g.Gantry("pull", ref)
			imgFails(t, "pull "+ref, res, "digest mismatch")
			if !strings.Contains(res.Stderr, "tampered/img") {
				t.Errorf("error %q does not name the image", res.Stderr)
			}
			imgNoTrace(t, g)
		})
	}
}

// A layer blob whose bytes were changed on the way, or cut short, is refused
// as not matching its digest and leaves no layer and no ingest.
func TestImageBadLayerBlob(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(body []byte) []byte
	}{
		{"flipped bytes", func(b []byte) []byte {
			for i := len(b) / 2; i < len(b)/2+16; i++ {
				b[i] ^= 0xff
			}
			return b
		}},
		{"truncated", func(b []byte) []byte { return b[:len(b)*3/4] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layer := imgRandomLayer(t, 256<<10)
			d, err := layer.Digest()
			if err != nil {
				t.Fatal(err)
			}
			var served atomic.Int32
			pick := func(r *http.Request) bool {
				if imgBlobGet(r) == d.String() {
					served.Add(1)
					return true
				}
				return false
			}
			host := imgMemRegistry(t, imgRewrite(pick, func(_ http.Header, b []byte) []byte { return tc.edit(b) }))
			base := imgRandomLayer(t, 4<<10)
			img := imgImage(t, nil, base, layer)
			imgSeed(t, host, "corrupt/img:1", img)
			_, _, diffIDs := imgIDs(t, img)
			ref := host + "/corrupt/img:1"

			g := fixture.NewDaemon(t)
			res := g.Gantry("pull", ref)
			imgFails(t, "pull of a damaged layer", res, "digest mismatch", "size mismatch")
			if !strings.Contains(res.Stderr, d.Hex[:12]) && !strings.Contains(res.Stderr, strings.TrimPrefix(diffIDs[1], "sha256:")[:12]) {
				t.Errorf("error %q does not name the layer %s", res.Stderr, d)
			}
			if served.Load() == 0 {
				t.Fatal("the damaged layer was never fetched")
			}
			// The intact base layer may stay unpacked for the next pull.
			imgNoTrace(t, g, imgChainIDs(diffIDs)[0])
		})
	}
}

// imgEvilLayer is a layer whose tar holds entries that try to write outside
// the layer.
func imgEvilLayer(t *testing.T, entries []tar.Header) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		body := ""
		if h.Typeflag == tar.TypeReg {
			body = "pwned\n"
			h.Size = int64(len(body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	return imgLayerFromTar(t, buf.Bytes())
}

// Layers that climb out of their directory, by name or through a symlink,
// are refused and write nothing outside the data root.
func TestImageBadPathEscape(t *testing.T) {
	host := imgMemRegistry(t, nil)
	sentinel := t.TempDir()
	up := strings.Repeat("../", 24) + strings.TrimPrefix(sentinel, "/")
	cases := []struct {
		name    string
		entries []tar.Header
	}{
		{"dot-dot name", []tar.Header{
			{Name: "../../escape", Typeflag: tar.TypeReg},
		}},
		{"dot-dot to an absolute place", []tar.Header{
			{Name: up + "/escape", Typeflag: tar.TypeReg},
		}},
		{"absolute symlink then a file through it", []tar.Header{
			{Name: "evil", Typeflag: tar.TypeSymlink, Linkname: sentinel, Mode: 0o777},
			{Name: "evil/owned", Typeflag: tar.TypeReg},
		}},
		{"relative symlink then a file through it", []tar.Header{
			{Name: "evil", Typeflag: tar.TypeSymlink, Linkname: up, Mode: 0o777},
			{Name: "evil/owned", Typeflag: tar.TypeReg},
		}},
		{"hardlink to outside", []tar.Header{
			{Name: "hl", Typeflag: tar.TypeLink, Linkname: up + "/target"},
		}},
	}
	if err := os.WriteFile(filepath.Join(sentinel, "target"), []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := imgImage(t, nil, imgEvilLayer(t, tc.entries))
			repo := fmt.Sprintf("evil/img%d:1", i)
			imgSeed(t, host, repo, img)
			g := fixture.NewDaemon(t)
			res := g.Gantry("pull", host+"/"+repo)
			imgFails(t, "pull of an escaping layer", res, "climbs out", "outside", "not allowed", "escape", "symlink")
			entries, err := os.ReadDir(sentinel)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != "target" {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("the pull wrote outside the data root: %s holds %q", sentinel, names)
			}
			if data, _ := os.ReadFile(filepath.Join(sentinel, "target")); string(data) != "keep\n" {
				t.Errorf("the pull changed %s/target: %q", sentinel, data)
			}
			for _, p := range []string{
				filepath.Join(g.DataRoot, "escape"),
				filepath.Join(g.DataRoot, "snapshots", "escape"),
				filepath.Join(g.DataRoot, "snapshots", "tmp", "escape"),
				filepath.Join(filepath.Dir(g.DataRoot), "escape"),
			} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("the pull wrote %s", p)
				}
			}
			imgNoTrace(t, g)
		})
	}
}

// A pull into a full data root fails saying the disk is full, and leaves no
// temporary files once checked and repaired.
func TestImageBadDiskFull(t *testing.T) {
	host := imgMemRegistry(t, nil)
	img := imgImage(t, nil, imgRandomLayer(t, 10<<20))
	imgSeed(t, host, "big/img:1", img)
	ref := host + "/big/img:1"

	// The daemon's data root becomes a small tmpfs: stopped, the root
	// mounted, started again on it.
	g := fixture.NewDaemon(t)
	g.Stop()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", g.DataRoot).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		g.Stop()
		if out, err := exec.Command("umount", g.DataRoot).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", g.DataRoot, err, out)
		}
	})
	g.Start()

	res := g.Gantry("pull", ref)
	imgFails(t, "pull into a full disk", res, "no space left on device", "disk full")
	if l := imgLines(g.MustGantry("images", "-a", "-q")); len(l) != 0 {
		t.Errorf("images lists %q after the failure", l)
	}
	if d := imgLayerDirs(t, g); len(d) != 0 {
		t.Errorf("layers unpacked after the failure: %q", d)
	}
	out := g.Gantry("system", "check", "--repair")
	if out.Code != 0 {
		t.Errorf("system check --repair: exit %d\nstdout: %s\nstderr: %s", out.Code, out.Stdout, out.Stderr)
	}
	if left := imgTempFiles(t, g); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	if left := imgIngests(t, g); len(left) != 0 {
		t.Errorf("content/ingest keeps %q after the disk-full pull and check --repair: the full disk stays full", left)
	}
	imgCheckClean(t, g)
	var fs syscall.Statfs_t
	if err := syscall.Statfs(g.DataRoot, &fs); err == nil {
		t.Logf("free in the data root after the failed pull and repair: %d of %d KiB", fs.Bavail*uint64(fs.Bsize)/1024, fs.Blocks*uint64(fs.Bsize)/1024)
	}
}
