package registry

import (
	"errors"
	"testing"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
)

const testDigest = "sha256:7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa"

// refView is every accessor of a Reference, for one cmp.Diff per case.
type refView struct {
	String, Familiar, FamiliarName, Name, Domain, Path, Tag string
	Digest                                                  digest.Digest
}

func viewOf(r Reference) refView {
	return refView{r.String(), r.Familiar(), r.FamiliarName(), r.Name(), r.Domain(), r.Path(), r.Tag(), r.Digest()}
}

func TestParseReference(t *testing.T) {
	tests := []struct {
		in   string
		want refView
	}{
		{"busybox", refView{"docker.io/library/busybox:latest", "busybox:latest", "busybox", "docker.io/library/busybox", "docker.io", "library/busybox", "latest", ""}},
		{"library/busybox", refView{"docker.io/library/busybox:latest", "busybox:latest", "busybox", "docker.io/library/busybox", "docker.io", "library/busybox", "latest", ""}},
		{"docker.io/busybox", refView{"docker.io/library/busybox:latest", "busybox:latest", "busybox", "docker.io/library/busybox", "docker.io", "library/busybox", "latest", ""}},
		{"docker.io/library/busybox:1.36", refView{"docker.io/library/busybox:1.36", "busybox:1.36", "busybox", "docker.io/library/busybox", "docker.io", "library/busybox", "1.36", ""}},
		{"user/app:1", refView{"docker.io/user/app:1", "user/app:1", "user/app", "docker.io/user/app", "docker.io", "user/app", "1", ""}},
		{"localhost:5000/a", refView{"localhost:5000/a:latest", "localhost:5000/a:latest", "localhost:5000/a", "localhost:5000/a", "localhost:5000", "a", "latest", ""}},
		{"localhost/a", refView{"localhost/a:latest", "localhost/a:latest", "localhost/a", "localhost/a", "localhost", "a", "latest", ""}},
		{"127.0.0.1:5000/a/b:c", refView{"127.0.0.1:5000/a/b:c", "127.0.0.1:5000/a/b:c", "127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b", "c", ""}},
		{"127.0.0.1:5000/app:1", refView{"127.0.0.1:5000/app:1", "127.0.0.1:5000/app:1", "127.0.0.1:5000/app", "127.0.0.1:5000/app", "127.0.0.1:5000", "app", "1", ""}},
		{"ghcr.io/org/app:v1.2", refView{"ghcr.io/org/app:v1.2", "ghcr.io/org/app:v1.2", "ghcr.io/org/app", "ghcr.io/org/app", "ghcr.io", "org/app", "v1.2", ""}},
		{"a@" + testDigest, refView{"docker.io/library/a@" + testDigest, "a@" + testDigest, "a", "docker.io/library/a", "docker.io", "library/a", "", testDigest}},
		{"a:t@" + testDigest, refView{"docker.io/library/a:t@" + testDigest, "a:t@" + testDigest, "a", "docker.io/library/a", "docker.io", "library/a", "t", testDigest}},
		{"[::1]:5000/a:b", refView{"[::1]:5000/a:b", "[::1]:5000/a:b", "[::1]:5000/a", "[::1]:5000/a", "[::1]:5000", "a", "b", ""}},
		{"busybox:LATEST", refView{"docker.io/library/busybox:LATEST", "busybox:LATEST", "busybox", "docker.io/library/busybox", "docker.io", "library/busybox", "LATEST", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseReference(tt.in)
			if err != nil {
				t.Fatalf("ParseReference(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, viewOf(r)); diff != "" {
				t.Errorf("ParseReference(%q) (-want +got):\n%s", tt.in, diff)
			}
			// The full form parses back to the same reference.
			again, err := ParseReference(r.String())
			if err != nil || again != r {
				t.Errorf("round trip of %q: %v, %v", r.String(), again, err)
			}
		})
	}
}

func TestParseReferenceErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"},
		{"127.0.0.1:5000/App:1", "invalid reference format: repository name (App) must be lowercase"},
		{"", "invalid reference format: repository name must have at least one component"},
		{"a::b", "invalid reference format"},
		{"a:", "invalid reference format"},
		{"a@sha256:123", "invalid reference format"},
		{":tag", "invalid reference format"},
		{"a b", "invalid reference format"},
		{"-a", "invalid reference format"},
		{"7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa", "invalid repository name (7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa), cannot specify 64-byte hexadecimal strings"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseReference(tt.in)
			if err == nil {
				t.Fatalf("ParseReference(%q) succeeded", tt.in)
			}
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("ParseReference(%q) error %v is not Invalid", tt.in, err)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseReference(%q) = %q, want %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestReferenceDerived(t *testing.T) {
	r, err := ParseReference("127.0.0.1:5000/app:1")
	if err != nil {
		t.Fatal(err)
	}
	tagged, err := r.WithTag("2")
	if err != nil {
		t.Fatal(err)
	}
	if got := tagged.Familiar(); got != "127.0.0.1:5000/app:2" {
		t.Errorf("WithTag: %q", got)
	}
	if _, err := r.WithTag("bad tag"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("WithTag(bad tag): %v", err)
	}
	d := r.WithDigest(testDigest)
	if got := d.String(); got != "127.0.0.1:5000/app:1@"+testDigest {
		t.Errorf("WithDigest: %q", got)
	}
	if d.reference() != testDigest {
		t.Errorf("a reference with a digest is fetched by digest, got %q", d.reference())
	}
	if got := d.NameOnly().String(); got != "127.0.0.1:5000/app" {
		t.Errorf("NameOnly: %q", got)
	}

	named, err := ParseNamed("busybox")
	if err != nil {
		t.Fatal(err)
	}
	if named.Tag() != "" || named.String() != "docker.io/library/busybox" || named.Familiar() != "busybox" {
		t.Errorf("ParseNamed(busybox) = %#v", named)
	}

	var zero Reference
	if !zero.IsZero() || zero.String() != "" || zero.Familiar() != "" || zero.Domain() != "" {
		t.Errorf("zero Reference misbehaves: %#v", zero)
	}
	if err := zero.check(); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("zero Reference check: %v", err)
	}
	if err := r.WithDigest("sha256:nothex").check(); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("bad digest check: %v", err)
	}
}
