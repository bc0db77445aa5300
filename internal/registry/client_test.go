package registry

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/google/go-cmp/cmp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestInsecureMatch(t *testing.T) {
	m := newInsecureMatcher([]string{"10.0.0.0/8", "myreg:5000", "http://other.example:5001/", "fd00::/8", "not a cidr/x"})
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"localhost:5000", true},
		{"LOCALHOST:5000", true},
		{"127.0.0.1:5000", true},
		{"127.1.2.3", true},
		{"[::1]:5000", true},
		{"::1", true},
		{"10.1.2.3:5000", true},
		{"10.1.2.3", true},
		{"11.1.2.3:5000", false},
		{"192.168.1.10:5000", false}, // private, but not configured: HTTPS as Docker
		{"myreg:5000", true},
		{"myreg:5001", false},
		{"myreg", false},
		{"other.example:5001", true},
		{"[fd00::1]:5000", true},
		{"[fe80::1]:5000", false},
		{"registry-1.docker.io", false},
		{"docker.io", false},
		{"localhost.example.com", false},
	}
	for _, tt := range tests {
		if got := m.match(tt.host); got != tt.want {
			t.Errorf("insecure(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}

	c := NewClient(Options{Insecure: []string{"10.0.0.0/8"}, ConfigDir: t.TempDir()})
	for domain, want := range map[string]string{
		"127.0.0.1:5000": "http://127.0.0.1:5000/v2/app/manifests/1",
		"10.0.0.5:5000":  "http://10.0.0.5:5000/v2/app/manifests/1",
		"192.168.0.5":    "https://192.168.0.5/v2/app/manifests/1",
		"docker.io":      "https://registry-1.docker.io/v2/app/manifests/1",
		"ghcr.io":        "https://ghcr.io/v2/app/manifests/1",
	} {
		if got := c.v2URL(domain, "app/manifests/1"); got != want {
			t.Errorf("v2URL(%s) = %s, want %s", domain, got, want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{Insecure: []string{"10.0.0.0/8", "host:5000", "::1"}}).Validate(); err != nil {
		t.Errorf("valid options: %v", err)
	}
	if err := (Options{Insecure: []string{"10.0.0.0/99"}}).Validate(); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("bad CIDR: %v", err)
	}
}

// recordingTransport answers every request with 200 and remembers it.
type recordingTransport struct{ reqs []*http.Request }

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.reqs = append(r.reqs, req)
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("")), Request: req, Header: http.Header{}}, nil
}

func TestSchemeTransport(t *testing.T) {
	rec := &recordingTransport{}
	st := &schemeTransport{inner: rec, insecure: newInsecureMatcher([]string{"10.0.0.0/8"}).match, userAgent: "gantry-test"}
	do := func(u string) error {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := st.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
			if req.URL.String() != u {
				t.Errorf("caller's request was changed to %s", req.URL)
			}
		}
		return err
	}
	for _, u := range []string{"https://127.0.0.1:5000/v2/", "https://10.0.0.1/v2/", "https://ghcr.io/v2/", "http://auth.example/token"} {
		if err := do(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	var got []string
	for _, r := range rec.reqs {
		got = append(got, r.URL.String())
		if ua := r.Header.Get("User-Agent"); ua != "gantry-test" {
			t.Errorf("User-Agent %q", ua)
		}
	}
	want := []string{"http://127.0.0.1:5000/v2/", "http://10.0.0.1/v2/", "https://ghcr.io/v2/", "http://auth.example/token"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("URLs sent (-want +got):\n%s", diff)
	}
	// go-containerregistry falls back to HTTP for private addresses; we do not.
	var refused *insecureRefused
	if err := do("http://192.168.1.1:5000/v2/"); !errors.As(err, &refused) {
		t.Errorf("plain HTTP to a secure registry: %v", err)
	}
}

func TestPlatforms(t *testing.T) {
	parse := []struct {
		in   string
		want ocispec.Platform
	}{
		{"linux/amd64", ocispec.Platform{OS: "linux", Architecture: "amd64"}},
		{"linux/arm64/v8", ocispec.Platform{OS: "linux", Architecture: "arm64"}},
		{"linux/aarch64", ocispec.Platform{OS: "linux", Architecture: "arm64"}},
		{"linux/arm", ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{"linux/arm/v6", ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}},
		{"x86_64", ocispec.Platform{OS: "linux", Architecture: "amd64"}},
		{"Linux/AMD64", ocispec.Platform{OS: "linux", Architecture: "amd64"}},
	}
	for _, tt := range parse {
		got, err := ParsePlatform(tt.in)
		if err != nil {
			t.Errorf("ParsePlatform(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParsePlatform(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	for _, bad := range []string{"", "linux/", "a/b/c/d", "/amd64"} {
		if _, err := ParsePlatform(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParsePlatform(%q): %v", bad, err)
		}
	}

	p := func(s string) ocispec.Platform {
		parts := strings.Split(s, "/")
		pl := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
		if len(parts) > 2 {
			pl.Variant = parts[2]
		}
		return pl
	}
	index := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
		{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v6"}},
		{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v7"}},
		{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
		{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:4444444444444444444444444444444444444444444444444444444444444444","size":1,"platform":{"os":"unknown","architecture":"unknown"}},
		{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:5555555555555555555555555555555555555555555555555555555555555555","size":1,"platform":{"os":"linux","architecture":"amd64"}}
	]}`)
	selects := []struct{ want, digit string }{
		{"linux/arm/v7", "2"},
		{"linux/arm/v6", "1"},
		{"linux/arm/v8", "2"}, // newest compatible
		{"linux/arm/v5", ""},
		{"linux/arm64", "3"},
		{"linux/amd64", "5"},
		{"linux/s390x", ""},
		{"windows/amd64", ""},
	}
	for _, tt := range selects {
		d, err := selectManifest(index, NormalizePlatform(p(tt.want)))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if d != nil {
			got = d.Digest.Encoded()[:1]
		}
		if got != tt.digit {
			t.Errorf("select %s = %q, want %q", tt.want, got, tt.digit)
		}
	}
}
