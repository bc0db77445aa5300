package client

import "strings"

// splitReference splits a normalised reference ("docker.io/library/
// busybox:latest", "name@sha256:…", "name:tag@sha256:…") into its
// repository, tag and digest. It does not validate: callers parse
// references (internal/registry) before handing them over.
func splitReference(ref string) (name, tag, digest string) {
	name, digest, _ = strings.Cut(ref, "@")
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, tag = name[:i], name[i+1:]
	}
	return name, tag, digest
}
