package container

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"

	"github.com/gantry-dev/gantry/internal/atomicfile"
	"github.com/gantry-dev/gantry/internal/errdefs"
	gnet "github.com/gantry-dev/gantry/internal/network"
)

// Network is the default bridge, as the container service uses it.
type Network interface {
	Attach(ctx context.Context, req gnet.AttachRequest) (*gnet.Endpoint, error)
	Detach(ctx context.Context, ep *gnet.Endpoint) error
	Reconcile(ctx context.Context, running map[string][]*gnet.Endpoint) error
	Gateway() netip.Addr
	// Known is the name of a network mode's network, or why it cannot be used.
	Known(mode string) (string, error)
}

// onBridge tells whether a container gets a veth on a bridge: the
// default one or a user network.
func onBridge(hc *container.HostConfig) bool {
	m := string(hc.NetworkMode)
	return m != "host" && m != "none" && !strings.HasPrefix(m, "container:")
}

// onUserNetwork tells whether the container's network is a user's.
func onUserNetwork(hc *container.HostConfig) bool {
	m := string(hc.NetworkMode)
	return onBridge(hc) && m != "" && m != "default" && m != "bridge"
}

// checkNetworkMode refuses a network mode that names no network.
func (s *Service) checkNetworkMode(hc *container.HostConfig) error {
	mode := string(hc.NetworkMode)
	if strings.HasPrefix(mode, "container:") {
		return s.checkJoinedTarget(mode)
	}
	if s.cfg.Network == nil {
		if onUserNetwork(hc) {
			return errdefs.NotFound("network %s not found", mode)
		}
		return nil
	}
	_, err := s.cfg.Network.Known(mode)
	return err
}

// checkNetwork refuses, at create, network options that cannot work.
func (s *Service) checkNetwork(cfg *container.Config, hc *container.HostConfig) error {
	if _, err := gnet.ResolvePorts(hc.PortBindings, hc.PublishAllPorts, cfg.ExposedPorts); err != nil {
		return err
	}
	// With host or none, published ports are ignored, as Docker does.
	if s.cfg.Network == nil && onBridge(hc) && (len(hc.PortBindings) > 0 || hc.PublishAllPorts) {
		return errdefs.Invalid("publishing ports needs the daemon's bridge network, which is not set up")
	}
	return nil
}

// endpointOptions reads the docker CLI's per-network options (--ip,
// --mac-address, --alias) for the container's network: the default bridge
// takes a MAC address only, as Docker's.
func endpointOptions(hc *container.HostConfig, nc *network.NetworkingConfig) (mac string, ip netip.Addr, aliases []string, err error) {
	if nc == nil {
		return "", ip, nil, nil
	}
	for name, es := range nc.EndpointsConfig {
		if es == nil {
			continue
		}
		if !isPrimaryEndpoint(hc, name) {
			continue // a further network (connectionsAtCreate)
		}
		if es.IPAMConfig != nil && (es.IPAMConfig.IPv4Address.IsValid() || es.IPAMConfig.IPv6Address.IsValid()) {
			if !onUserNetwork(hc) {
				return "", ip, nil, errdefs.Invalid("user specified IP address is supported on user defined networks only")
			}
			ip = es.IPAMConfig.IPv4Address
		}
		if len(es.Aliases) > 0 {
			if !onUserNetwork(hc) {
				return "", ip, nil, errdefs.Invalid("network-scoped alias is supported only for containers in user defined networks")
			}
			aliases = es.Aliases
		}
		if len(es.MacAddress) > 0 {
			if !onBridge(hc) {
				return "", ip, nil, errdefs.Invalid("conflicting options: mac-address and the network mode")
			}
			mac = net.HardwareAddr(es.MacAddress).String()
		}
	}
	return mac, ip, aliases, nil
}

// attachNetwork gives a starting container its endpoint on the bridge and
// writes its /etc/hosts with the address.
func (s *Service) attachNetwork(ctx context.Context, rec *Record) error {
	rec.Network = nil
	if err := s.joinNetwork(rec); err != nil {
		return err
	}
	if s.cfg.Network == nil || !onBridge(rec.HostConfig) {
		return nil
	}
	ports, err := gnet.ResolvePorts(rec.HostConfig.PortBindings, rec.HostConfig.PublishAllPorts, rec.Config.ExposedPorts)
	if err != nil {
		return err
	}
	// The veth is made while the shim creates the container, when nothing
	// else needs it first (further networks are plugged next to it); the
	// start waits for it before the process runs (startLocked).
	ep, err := s.cfg.Network.Attach(ctx, gnet.AttachRequest{ID: rec.ID, Name: rec.Name, Ports: ports, MAC: macAddress(rec),
		Network: string(rec.HostConfig.NetworkMode), IP: rec.IP, Aliases: rec.Aliases, Background: len(rec.Connections) == 0})
	if err != nil {
		return err
	}
	rec.Network = ep
	if err := s.plugConnections(ctx, rec); err != nil {
		s.detachNetwork(rec)
		return err
	}
	// Written anew at every start, so it needs no trip to the disk.
	if err := atomicfile.WriteUnsynced(filepath.Join(s.containerDir(rec.ID), "hosts"), []byte(s.hostsFile(rec)), 0o644); err != nil {
		s.detachNetwork(rec)
		return err
	}
	s.publishEndpoint(eventtypes.ActionConnect, rec.ID, ep)
	return nil
}

// publishEndpoint is Docker's network connect/disconnect event: the
// network as the actor, the container among the attributes.
func (s *Service) publishEndpoint(action eventtypes.Action, id string, ep *gnet.Endpoint) {
	if s.events == nil || ep == nil {
		return
	}
	s.events.Publish(eventtypes.NetworkEventType, action, ep.NetworkID, map[string]string{"container": id, "name": ep.Network, "type": "bridge"})
}

// detachNetwork releases the endpoint (safe to call when there is none).
func (s *Service) detachNetwork(rec *Record) {
	if rec.Network == nil || s.cfg.Network == nil {
		return
	}
	s.unplugConnections(rec)
	if err := s.cfg.Network.Detach(context.Background(), rec.Network); err != nil {
		s.log.Warn("releasing a container's network", "id", rec.ID, "err", err)
	}
	s.publishEndpoint(eventtypes.ActionDisconnect, rec.ID, rec.Network)
	rec.Network = nil
}

// reconcileNetwork hands the endpoints of the running containers to the
// network after a restart; it drops everything else.
func (s *Service) reconcileNetwork(ctx context.Context) error {
	if s.cfg.Network == nil {
		return nil
	}
	running := map[string][]*gnet.Endpoint{}
	for _, e := range s.all() {
		e.mu.Lock()
		if e.rec.State.Running() && e.rec.Network != nil {
			running[e.rec.ID] = runningEndpoints(&e.rec)
		}
		e.mu.Unlock()
	}
	return s.cfg.Network.Reconcile(ctx, running)
}

func macAddress(rec *Record) string { return rec.MacAddress }

// hostsFile is the container's /etc/hosts, as Docker writes it: its own
// address (127.0.1.1 without one) under its hostname, and --add-host
// entries with host-gateway replaced by the bridge's address.
func (s *Service) hostsFile(rec *Record) string {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	for _, h := range rec.HostConfig.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if !ok {
			name, ip, _ = strings.Cut(h, "=")
		}
		if ip == "host-gateway" && s.cfg.Network != nil {
			ip = s.cfg.Network.Gateway().String()
		}
		b.WriteString(ip + "\t" + name + "\n")
	}
	switch {
	case rec.Network != nil && rec.Network.IP.IsValid():
		b.WriteString(rec.Network.IP.String() + "\t" + rec.Config.Hostname + "\n" + extraHostsLines(rec))
	case len(rec.Extra) > 0:
		b.WriteString(extraHostsLines(rec))
	case rec.HostConfig.NetworkMode != "host":
		b.WriteString("127.0.1.1\t" + rec.Config.Hostname + "\n")
	}
	return b.String()
}

// bridgeResolvConf is the host's resolv.conf for a container with a
// network of its own: loopback nameservers cannot be reached from there,
// so they go, and Google's public ones stand in when none is left, as
// Docker does.
func bridgeResolvConf(host string) string {
	var out []string
	servers := 0
	for _, line := range strings.Split(host, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil && a.IsLoopback() {
				continue
			}
			servers++
		}
		out = append(out, line)
	}
	text := strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
	if servers == 0 {
		text += "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
	}
	return strings.TrimLeft(text, "\n")
}

// embeddedResolvConf is a user network container's: the embedded DNS
// server, with the search domains and options asked for, as Docker's.
func embeddedResolvConf(hc *container.HostConfig) string {
	text := "nameserver " + gnet.EmbeddedDNS + "\n"
	if len(hc.DNSSearch) > 0 {
		text += "search " + strings.Join(hc.DNSSearch, " ") + "\n"
	}
	opts := append([]string{"ndots:0"}, hc.DNSOptions...)
	return text + "options " + strings.Join(opts, " ") + "\n"
}

// UsesNetwork tells whether a container names the network, for prune.
func (s *Service) UsesNetwork(name string) bool {
	for _, e := range s.all() {
		e.mu.Lock()
		mode := string(e.rec.HostConfig.NetworkMode)
		uses := mode == name || slices.ContainsFunc(e.rec.Connections, func(c Connection) bool { return c.Network == name })
		e.mu.Unlock()
		if uses {
			return true
		}
	}
	return false
}

// hostResolvConf reads the host's resolver configuration.
func hostResolvConf() string {
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return ""
	}
	return string(data)
}

// networkSettings is inspect's NetworkSettings.
func networkSettings(rec *Record) *container.NetworkSettings {
	ns := &container.NetworkSettings{Ports: network.PortMap{}, Networks: map[string]*network.EndpointSettings{}}
	for p := range rec.Config.ExposedPorts {
		ns.Ports[p] = nil
	}
	mode := string(rec.HostConfig.NetworkMode)
	if mode == "" || mode == "default" {
		mode = "bridge"
	}
	es := &network.EndpointSettings{}
	if rec.Network != nil && rec.State.Running() {
		ns.SandboxKey = rec.Network.Netns
	}
	if ep := primaryEndpoint(rec, mode); ep != nil && rec.State.Running() {
		ns.SandboxID = ep.EndpointID[:64]
		fillEndpointSettings(es, ep)
		for _, m := range ep.Ports {
			p, ok := network.PortFrom(m.ContainerPort, network.IPProtocol(m.Proto))
			if !ok {
				continue
			}
			ns.Ports[p] = append(ns.Ports[p], network.PortBinding{HostIP: m.HostIP, HostPort: strconv.Itoa(int(m.HostPort))})
		}
	}
	if mode == "host" {
		ns.Ports = network.PortMap{}
	}
	if ep := rec.Network; ep != nil {
		es.Aliases = ep.Aliases
		if onUserNetwork(rec.HostConfig) {
			es.DNSNames = append([]string{rec.Name, rec.ID[:12]}, ep.Aliases...)
		}
	}
	if !container.NetworkMode(mode).IsContainer() { // no endpoint of its own, as Docker's
		ns.Networks[mode] = es
	}
	extraNetworkSettings(rec, ns.Networks)
	return ns
}

// portSummaries are ps's PORTS: published ports of a running container,
// and the exposed ones that are not.
func portSummaries(rec *Record) []container.PortSummary {
	out := []container.PortSummary{}
	published := map[network.Port]bool{}
	if ep := rec.Network; ep != nil && rec.State.Running() {
		for _, m := range ep.Ports {
			p, _ := network.PortFrom(m.ContainerPort, network.IPProtocol(m.Proto))
			published[p] = true
			out = append(out, container.PortSummary{IP: m.HostIP, PrivatePort: m.ContainerPort, PublicPort: m.HostPort, Type: m.Proto})
		}
	}
	if rec.HostConfig.NetworkMode == "host" || !rec.State.Running() {
		return out
	}
	for p := range rec.Config.ExposedPorts {
		if !published[p] {
			out = append(out, container.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())})
		}
	}
	slices.SortFunc(out, func(a, b container.PortSummary) int { return int(a.PrivatePort) - int(b.PrivatePort) })
	return out
}

// summaryNetworks is ps's view of the container's networks.
func summaryNetworks(rec *Record) map[string]*network.EndpointSettings {
	return networkSettings(rec).Networks
}
