package container

import (
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// --network container:NAME|ID: the container runs in another container's
// network namespace and shares its address, ports, /etc/hosts,
// resolv.conf and hostname, as Docker's; options that would configure a
// network of its own are refused with Docker's texts.

// Joined is the container whose network namespace a running container
// shares, as it was when it started.
type Joined struct {
	ID       string `json:"id"`
	Netns    string `json:"netns"`
	Hostname string `json:"hostname"`
}

// Docker's texts (runconfig) for options a shared namespace cannot take.
const (
	errConflictHostname     = "conflicting options: hostname and the network mode"
	errConflictDNS          = "conflicting options: dns and the network mode"
	errConflictHosts        = "conflicting options: custom host-to-IP mapping and the network mode"
	errConflictPublishPorts = "conflicting options: port publishing and the container type network mode"
	errConflictExposePorts  = "conflicting options: port exposing and the container type network mode"
)

// checkJoinedTarget is create's check of container:NAME. The container is
// looked for at the start, as Docker's (a 404 from create would make the
// docker CLI pull the image).
func (s *Service) checkJoinedTarget(mode string) error {
	if strings.TrimPrefix(mode, "container:") == "" {
		return errdefs.Invalid("invalid container format container:<name|id>")
	}
	return nil
}

// checkJoinedOptions refuses, at create, what Docker refuses beside
// --network container: (cfg is the request's config, before the image's).
func checkJoinedOptions(cfg *container.Config, hc *container.HostConfig) error {
	if !hc.NetworkMode.IsContainer() {
		return nil
	}
	switch {
	case cfg.Hostname != "":
		return errdefs.Invalid(errConflictHostname)
	case len(hc.DNS) > 0:
		return errdefs.Invalid(errConflictDNS)
	case len(hc.ExtraHosts) > 0:
		return errdefs.Invalid(errConflictHosts)
	case len(hc.PortBindings) > 0 || hc.PublishAllPorts:
		return errdefs.Invalid(errConflictPublishPorts)
	case len(cfg.ExposedPorts) > 0:
		return errdefs.Invalid(errConflictExposePorts)
	}
	return nil
}

// joinNetwork finds, at start, the running container whose namespace
// this one shares.
func (s *Service) joinNetwork(rec *Record) error {
	rec.Joined = nil
	if !rec.HostConfig.NetworkMode.IsContainer() {
		return nil
	}
	ref := rec.HostConfig.NetworkMode.ConnectedContainer()
	t, err := s.lookup(ref)
	if err != nil {
		return err
	}
	if t.rec.ID == rec.ID {
		return errdefs.Invalid("cannot join own network namespace")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.rec.State.Running() || t.rec.State.Pid == 0 {
		status := t.rec.State.Status
		if status == container.StateRunning {
			status = "starting"
		}
		return errdefs.Conflict("cannot join network namespace of a non running container: container %s is %s", t.rec.Name, status)
	}
	j := &Joined{ID: t.rec.ID, Netns: fmt.Sprintf("/proc/%d/ns/net", t.rec.State.Pid), Hostname: t.rec.Config.Hostname}
	if t.rec.Network != nil {
		j.Netns = t.rec.Network.Netns // the daemon's handle, which outlives a pid
	}
	rec.Joined = j
	return nil
}
