// Package registry is the registry side of pull and push: image references
// as Docker reads them, credentials from the docker config directory, and the
// distribution protocol (manifests, blobs, uploads, cross-repository mounts)
// over go-containerregistry's authenticated transports.
package registry

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/opencontainers/go-digest"
)

// dockerHubDomain is the domain references to Docker Hub normalise to.
const dockerHubDomain = "docker.io"

// Reference is a normalised image reference, as Docker reads them. The zero
// value is not a valid reference; build one with ParseReference or ParseNamed.
type Reference struct {
	// name holds only the repository; tag and digest are kept apart so that
	// WithDigest cannot fail and String is built the same way for all forms.
	domain, path string
	tag          string
	dgst         digest.Digest
}

// ParseReference reads s as Docker does: "busybox" is
// docker.io/library/busybox:latest, a reference without tag or digest gets
// ":latest", "name:tag@digest" keeps both.
func ParseReference(s string) (Reference, error) {
	r, err := ParseNamed(s)
	if err != nil {
		return Reference{}, err
	}
	if r.tag == "" && r.dgst == "" {
		r.tag = "latest"
	}
	return r, nil
}

// ParseNamed is ParseReference without the default tag, for the places that
// name a repository (push of all tags, cross-repository mount sources).
func ParseNamed(s string) (Reference, error) {
	p, err := parseNormalized(s)
	if err != nil {
		return Reference{}, referenceError(s, err)
	}
	return Reference{domain: p.domain, path: p.path, tag: p.tag, dgst: digest.Digest(p.digest)}, nil
}

// referenceError words a parse failure as Docker does, always starting with
// "invalid reference format" so that users recognise it.
func referenceError(s string, err error) error {
	const prefix = "invalid reference format"
	msg := err.Error()
	switch {
	case s == "":
		msg = prefix + ": repository name must have at least one component"
	case errors.Is(err, errFormat):
		msg = prefix
	case strings.HasPrefix(msg, prefix), strings.HasPrefix(msg, "invalid repository name"):
	default:
		msg = prefix + ": " + msg
	}
	return errdefs.Invalid("%s", msg)
}

// IsZero reports whether r is the zero Reference.
func (r Reference) IsZero() bool { return r.path == "" }

// String is the full form: "docker.io/library/busybox:latest", with
// "@digest" when there is one.
func (r Reference) String() string {
	if r.IsZero() {
		return ""
	}
	return r.suffixed(r.Name())
}

// Familiar is Docker's short form: "busybox:latest", "127.0.0.1:5000/app:1".
func (r Reference) Familiar() string {
	if r.IsZero() {
		return ""
	}
	return r.suffixed(familiarName(r.domain, r.path))
}

func (r Reference) suffixed(name string) string {
	if r.tag != "" {
		name += ":" + r.tag
	}
	if r.dgst != "" {
		name += "@" + r.dgst.String()
	}
	return name
}

// FamiliarName is the repository in Docker's short form: "busybox",
// "127.0.0.1:5000/app".
func (r Reference) FamiliarName() string {
	if r.IsZero() {
		return ""
	}
	return familiarName(r.domain, r.path)
}

// Name is the full repository name: "docker.io/library/busybox".
func (r Reference) Name() string {
	if r.IsZero() {
		return ""
	}
	return r.domain + "/" + r.path
}

// Domain is the registry part: "docker.io", "127.0.0.1:5000".
func (r Reference) Domain() string {
	return r.domain
}

// Path is the repository within its registry: "library/busybox".
func (r Reference) Path() string {
	return r.path
}

// Tag is the tag, "" when the reference has none (digest only).
func (r Reference) Tag() string { return r.tag }

// Digest is the digest, "" when the reference has none.
func (r Reference) Digest() digest.Digest { return r.dgst }

// NameOnly is r without tag and digest.
func (r Reference) NameOnly() Reference { return Reference{domain: r.domain, path: r.path} }

// WithTag is r with its tag replaced; a digest, if any, is kept as Docker's
// "name:tag@digest" form does.
func (r Reference) WithTag(tag string) (Reference, error) {
	if r.IsZero() {
		return Reference{}, errdefs.Invalid("invalid reference format: no repository name")
	}
	if !validTag(tag) {
		return Reference{}, errdefs.Invalid("invalid tag format: %q", tag)
	}
	r.tag = tag
	return r, nil
}

// WithDigest is r with its digest replaced. The digest is checked where it is
// used (Resolve, FetchBlob), which keeps this infallible.
func (r Reference) WithDigest(d digest.Digest) Reference {
	r.dgst = d
	return r
}

// reference is what goes into a manifest URL: the digest when there is one
// (Docker pulls "name:tag@digest" by digest), else the tag.
func (r Reference) reference() string {
	if r.dgst != "" {
		return r.dgst.String()
	}
	return r.tag
}

// check refuses references that cannot be put in a URL.
func (r Reference) check() error {
	if r.IsZero() {
		return errdefs.Invalid("invalid reference format: no repository name")
	}
	if r.dgst != "" {
		if err := r.dgst.Validate(); err != nil {
			return errdefs.Invalid("invalid reference %s: %v", r.String(), err)
		}
	}
	return nil
}

// GoString helps test failure output.
func (r Reference) GoString() string { return fmt.Sprintf("registry.Reference(%q)", r.String()) }
