package client

import (
	"context"
	"fmt"
	"net/url"

	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"
)

// ServerVersionOptions and InfoOptions have no options.
type (
	ServerVersionOptions struct{}
	InfoOptions          struct{}
)

// PlatformInfo names the daemon's product.
type PlatformInfo struct {
	Name string
}

// ServerVersionResult is the daemon's version.
type ServerVersionResult struct {
	Platform      PlatformInfo
	Version       string
	APIVersion    string
	MinAPIVersion string
	Os            string
	Arch          string
	Experimental  bool
	Components    []system.ComponentVersion
}

// ServerVersion is GET /version.
func (c *Client) ServerVersion(ctx context.Context, _ ServerVersionOptions) (ServerVersionResult, error) {
	resp, err := c.get(ctx, "/version", nil)
	if err != nil {
		return ServerVersionResult{}, err
	}
	var v system.VersionResponse
	if err := decode(resp, &v); err != nil {
		return ServerVersionResult{}, err
	}
	return ServerVersionResult{
		Platform:      PlatformInfo{Name: v.Platform.Name},
		Version:       v.Version,
		APIVersion:    v.APIVersion,
		MinAPIVersion: v.MinAPIVersion,
		Os:            v.Os,
		Arch:          v.Arch,
		Experimental:  v.Experimental, //nolint:staticcheck // still sent
		Components:    v.Components,
	}, nil
}

// SystemInfoResult is the daemon's information.
type SystemInfoResult struct {
	Info system.Info
}

// Info is GET /info.
func (c *Client) Info(ctx context.Context, _ InfoOptions) (SystemInfoResult, error) {
	resp, err := c.get(ctx, "/info", url.Values{})
	if err != nil {
		return SystemInfoResult{}, err
	}
	var r SystemInfoResult
	if err := decode(resp, &r.Info); err != nil {
		return SystemInfoResult{}, fmt.Errorf("Error reading remote info: %v", err)
	}
	return r, nil
}

// RegistryLoginOptions is a login to check.
type RegistryLoginOptions struct {
	Username      string
	Password      string
	ServerAddress string
	IdentityToken string
	RegistryToken string
}

// RegistryLoginResult is the registry's answer.
type RegistryLoginResult struct {
	Auth registry.AuthResponse
}

// RegistryLogin is POST /auth: the daemon checks the credentials.
func (c *Client) RegistryLogin(ctx context.Context, o RegistryLoginOptions) (RegistryLoginResult, error) {
	resp, err := c.post(ctx, "/auth", url.Values{}, nil, registry.AuthConfig{
		Username:      o.Username,
		Password:      o.Password,
		ServerAddress: o.ServerAddress,
		IdentityToken: o.IdentityToken,
		RegistryToken: o.RegistryToken,
	})
	if err != nil {
		return RegistryLoginResult{}, err
	}
	var r RegistryLoginResult
	err = decode(resp, &r.Auth)
	return r, err
}
