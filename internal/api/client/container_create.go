package client

import (
	"context"
	"net/url"
	"path"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ContainerCreateOptions is a container to create.
type ContainerCreateOptions struct {
	Config           *container.Config
	HostConfig       *container.HostConfig
	NetworkingConfig *network.NetworkingConfig
	Platform         *ocispec.Platform
	Name             string
	Image            string // instead of Config.Image
}

// ContainerCreateResult is the new container.
type ContainerCreateResult struct {
	ID       string
	Warnings []string
}

// ContainerCreate is POST /containers/create.
func (c *Client) ContainerCreate(ctx context.Context, o ContainerCreateOptions) (ContainerCreateResult, error) {
	cfg := o.Config
	if cfg == nil {
		cfg = &container.Config{}
	}
	if o.Image != "" {
		if cfg.Image != "" {
			return ContainerCreateResult{}, cerrdefs.ErrInvalidArgument.WithMessage("either Image or config.Image should be set")
		}
		cp := *cfg
		cp.Image = o.Image
		cfg = &cp
	}
	if cfg.Image == "" {
		return ContainerCreateResult{}, cerrdefs.ErrInvalidArgument.WithMessage("config.Image or Image is required")
	}
	query := url.Values{}
	if o.Platform != nil && o.Platform.OS != "" {
		query.Set("platform", path.Join(o.Platform.OS, o.Platform.Architecture, o.Platform.Variant))
	}
	if o.Name != "" {
		query.Set("name", o.Name)
	}
	resp, err := c.post(ctx, "/containers/create", query, nil, container.CreateRequest{
		Config:           cfg,
		HostConfig:       normalizeHostConfig(o.HostConfig),
		NetworkingConfig: o.NetworkingConfig,
	})
	if err != nil {
		return ContainerCreateResult{}, err
	}
	var r container.CreateResponse
	err = decode(resp, &r)
	return ContainerCreateResult{ID: r.ID, Warnings: r.Warnings}, err
}

// normalizeHostConfig writes capabilities as the daemon expects them:
// upper case, "CAP_" prefixed (but "ALL"), sorted, once each.
func normalizeHostConfig(hc *container.HostConfig) *container.HostConfig {
	if hc == nil {
		return nil
	}
	n := *hc
	n.CapAdd = normalizeCaps(hc.CapAdd)
	n.CapDrop = normalizeCaps(hc.CapDrop)
	return &n
}

func normalizeCaps(caps []string) []string {
	out := slices.Clone(caps)
	for i, c := range out {
		c = strings.ToUpper(c)
		if c != "ALL" && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		out[i] = c
	}
	slices.Sort(out)
	return slices.Compact(out)
}
