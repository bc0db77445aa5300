package container

import (
	"context"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// A container is moved between networks before it runs (what Compose does
// between create and start to give a service its names) and connected to
// further networks before or while it runs (hotplug.go).

// ConnectNetwork is POST /networks/{id}/connect for one container.
func (s *Service) ConnectNetwork(ctx context.Context, ref, networkRef string, es *network.EndpointSettings) error {
	name, e, err := s.containerAndNetwork(ref, networkRef)
	if err != nil {
		return err
	}
	defer e.mu.Unlock()
	rec := &e.rec
	current := string(rec.HostConfig.NetworkMode)
	same := onNetwork(rec.HostConfig, name)
	switch {
	case current == "host" || name == "host":
		return errdefs.Forbidden("container cannot be disconnected from host network or connected to host network")
	case rec.State.Running() || (!same && !rec.NetworkDisconnected && current != "none"):
		// A further network (hotplug.go), at once when it runs.
		if err := checkConnect(rec, name); err != nil {
			return err
		}
		return s.connectFurther(ctx, e, name, es)
	case connected(rec, name):
		return errdefs.Forbidden("endpoint with name %s already exists in network %s", rec.Name, name)
	}
	hc := *rec.HostConfig
	hc.NetworkMode = container.NetworkMode(name)
	mac, ip, aliases, err := endpointOptions(&hc, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{name: es}})
	if err != nil {
		return err
	}
	rec.HostConfig.NetworkMode = hc.NetworkMode
	rec.NetworkDisconnected = false
	rec.IP, rec.Aliases = ip, aliases
	if mac != "" {
		rec.MacAddress = mac
	}
	return s.persist(e)
}

// DisconnectNetwork is POST /networks/{id}/disconnect for one container.
func (s *Service) DisconnectNetwork(ctx context.Context, ref, networkRef string, force bool) error {
	name, e, err := s.containerAndNetwork(ref, networkRef)
	if err != nil {
		return err
	}
	defer e.mu.Unlock()
	rec := &e.rec
	current := string(rec.HostConfig.NetworkMode)
	switch {
	case current == "host" || name == "host":
		return errdefs.Forbidden("container cannot be disconnected from host network or connected to host network")
	case !connected(rec, name):
		return errdefs.Forbidden("container %s is not connected to network %s", rec.ID, name)
	case rec.State.Running():
		return s.disconnectRunning(ctx, e, name, force)
	}
	forgetConnection(rec, name)
	return s.persist(e)
}

// containerAndNetwork finds both ends of a connect or disconnect: the
// network's name and the container, returned locked.
func (s *Service) containerAndNetwork(ref, networkRef string) (string, *entry, error) {
	name, err := s.networkName(networkRef)
	if err != nil {
		return "", nil, err
	}
	e, err := s.lookup(ref)
	if err != nil {
		return "", nil, err
	}
	e.mu.Lock()
	return name, e, nil
}

// onNetwork tells whether the container's network mode is the network
// (the default one being "bridge").
func onNetwork(hc *container.HostConfig, name string) bool {
	mode := string(hc.NetworkMode)
	return mode == name || (name == "bridge" && (mode == "" || mode == "default"))
}

// networkName is a network's name from its name or ID.
func (s *Service) networkName(ref string) (string, error) {
	if s.cfg.Network == nil {
		if ref == "bridge" || ref == "host" || ref == "none" {
			return ref, nil
		}
		return "", errdefs.NotFound("network %s not found", ref)
	}
	return s.cfg.Network.Known(ref)
}
