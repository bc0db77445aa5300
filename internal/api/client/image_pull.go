package client

import (
	"context"
	"net/http"
	"net/url"
	"path"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImagePullOptions is a pull: RegistryAuth is the encoded credentials
// (X-Registry-Auth).
type ImagePullOptions struct {
	All          bool
	RegistryAuth string
	Platforms    []ocispec.Platform // at most one
}

// ImagePushOptions is a push.
type ImagePushOptions struct {
	All          bool
	RegistryAuth string
}

// ImagePull is POST /images/create?fromImage=: ref is a normalised
// reference; without tag nor digest, "latest" is pulled (unless All).
// The progress stream is the daemon's.
func (c *Client) ImagePull(ctx context.Context, ref string, o ImagePullOptions) (*MessageStream, error) {
	name, tag, digest := splitReference(ref)
	query := url.Values{"fromImage": {name}}
	if !o.All {
		switch {
		case digest != "":
			query.Set("tag", digest)
		case tag != "":
			query.Set("tag", tag)
		default:
			query.Set("tag", "latest")
		}
	}
	if len(o.Platforms) > 1 {
		return nil, cerrdefs.ErrInvalidArgument.WithMessage("specifying multiple platforms is not yet supported")
	}
	if len(o.Platforms) == 1 {
		p := o.Platforms[0]
		v := "unknown"
		if p.OS != "" {
			v = path.Join(p.OS, p.Architecture, p.Variant)
		}
		query.Set("platform", v)
	}
	resp, err := c.post(ctx, "/images/create", query, authHeader(o.RegistryAuth), nil)
	if err != nil {
		return nil, err
	}
	return newMessageStream(resp.Body), nil
}

// ImagePush is POST /images/{name}/push: ref is a normalised reference
// without digest; without tag, "latest" is pushed (unless All).
func (c *Client) ImagePush(ctx context.Context, ref string, o ImagePushOptions) (*MessageStream, error) {
	name, tag, _ := splitReference(ref)
	query := url.Values{}
	if !o.All {
		if tag == "" {
			tag = "latest"
		}
		query.Set("tag", tag)
	}
	resp, err := c.post(ctx, "/images/"+name+"/push", query, authHeader(o.RegistryAuth), nil)
	if err != nil {
		return nil, err
	}
	return newMessageStream(resp.Body), nil
}

func authHeader(auth string) http.Header {
	h := http.Header{}
	if auth != "" {
		h.Set(registry.AuthHeader, auth)
	}
	return h
}
