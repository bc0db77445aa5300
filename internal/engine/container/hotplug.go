package container

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"

	"github.com/gantry-dev/gantry/internal/atomicfile"
	"github.com/gantry-dev/gantry/internal/errdefs"
	gnet "github.com/gantry-dev/gantry/internal/network"
)

// A container starts on one network (eth0, whose endpoint owns its
// namespace) and may be connected to more, before it runs or while it
// runs, as Docker's: each further network is a Connection kept in the
// record across restarts, and while the container runs an endpoint in
// Extra (eth1, eth2… hot-plugged into its namespace). Disconnecting
// releases the interface, its address, its DNS names and its rules.

// Connection is a network connected beyond the first one.
type Connection struct {
	Network string     `json:"network"`
	IP      netip.Addr `json:"ip,omitzero"`
	Aliases []string   `json:"aliases,omitempty"`
	MAC     string     `json:"mac,omitempty"`
}

// hotplugger is the network side of connecting a running container.
type hotplugger interface {
	Plug(ctx context.Context, req gnet.AttachRequest, ifname string) (*gnet.Endpoint, error)
}

// Docker's texts for connections its network mode forbids.
const (
	errSharedNetwork = "container sharing network namespace with another container or host cannot be connected to any other network"
	errNoNetwork     = "container cannot be connected to multiple networks with one of the networks in private (none) mode"
)

// plugConnections gives a starting container, already on its first
// network, an interface on each connected one; a failure releases them.
func (s *Service) plugConnections(ctx context.Context, rec *Record) error {
	rec.Extra = nil
	for _, c := range rec.Connections {
		ep, err := s.plugConnection(ctx, rec, c)
		if err != nil {
			s.unplugConnections(rec)
			return err
		}
		rec.Extra = append(rec.Extra, ep)
	}
	return s.startResolvConf(rec)
}

// startResolvConf points a starting container's resolv.conf at the
// embedded DNS server when a further network has names, and back at the
// host's resolvers once none has (it was rewritten while it ran).
func (s *Service) startResolvConf(rec *Record) error {
	if len(rec.HostConfig.DNS) > 0 || onUserNetwork(rec.HostConfig) {
		return nil
	}
	path := filepath.Join(s.containerDir(rec.ID), "resolv.conf")
	embedded := slices.ContainsFunc(rec.Extra, func(ep *gnet.Endpoint) bool { return ep.DNS })
	old, _ := os.ReadFile(path)
	if embedded == strings.HasPrefix(string(old), "nameserver "+gnet.EmbeddedDNS+"\n") {
		return nil
	}
	text := resolvConf(rec)
	if embedded {
		text = embeddedResolvConf(rec.HostConfig)
	}
	return atomicfile.Write(path, []byte(text), 0o644)
}

func (s *Service) plugConnection(ctx context.Context, rec *Record, c Connection) (*gnet.Endpoint, error) {
	p, ok := s.cfg.Network.(hotplugger)
	if !ok || rec.Network == nil {
		return nil, errdefs.Invalid(errNoNetwork)
	}
	ep, err := p.Plug(ctx, gnet.AttachRequest{ID: rec.ID, Name: rec.Name, Network: c.Network, IP: c.IP, Aliases: c.Aliases, MAC: c.MAC}, nextIfname(rec))
	if err != nil {
		return nil, err
	}
	s.publishEndpoint(eventtypes.ActionConnect, rec.ID, ep)
	return ep, nil
}

// unplugConnections releases the further interfaces (at an exit).
func (s *Service) unplugConnections(rec *Record) {
	for _, ep := range rec.Extra {
		if err := s.cfg.Network.Detach(context.Background(), ep); err != nil {
			s.log.Warn("releasing a container's network", "id", rec.ID, "network", ep.Network, "err", err)
		}
		s.publishEndpoint(eventtypes.ActionDisconnect, rec.ID, ep)
	}
	rec.Extra = nil
}

// nextIfname is the lowest ethN (N ≥ 1) the container does not use.
func nextIfname(rec *Record) string {
	for n := 1; ; n++ {
		name := fmt.Sprintf("eth%d", n)
		if !slices.ContainsFunc(rec.Extra, func(ep *gnet.Endpoint) bool { return ep.Ifname == name }) {
			return name
		}
	}
}

// connected tells whether the container is connected to the network,
// first or further.
func connected(rec *Record, name string) bool {
	if !rec.NetworkDisconnected && onNetwork(rec.HostConfig, name) {
		return true
	}
	return slices.ContainsFunc(rec.Connections, func(c Connection) bool { return c.Network == name })
}

// liveEndpoint is the container's endpoint on a network while it runs.
func liveEndpoint(rec *Record, name string) *gnet.Endpoint {
	if ep := rec.Network; ep != nil && ep.Bridge != "" && ep.Network == name {
		return ep
	}
	for _, ep := range rec.Extra {
		if ep.Network == name {
			return ep
		}
	}
	return nil
}

// primaryEndpoint is the endpoint inspect shows for the network mode: eth0's,
// or, once eth0's network was left, the one of the network now first.
func primaryEndpoint(rec *Record, mode string) *gnet.Endpoint {
	if ep := rec.Network; ep != nil && ep.Bridge != "" {
		return ep
	}
	return liveEndpoint(rec, mode)
}

// checkConnect refuses what Docker refuses before connecting: a network
// mode that shares another namespace, none, or a network already joined.
func checkConnect(rec *Record, name string) error {
	mode := container.NetworkMode(rec.HostConfig.NetworkMode)
	switch {
	case mode.IsContainer():
		return errdefs.Forbidden(errSharedNetwork)
	case mode.IsNone() && !rec.NetworkDisconnected:
		return errdefs.Invalid(errNoNetwork)
	case name == "none":
		return errdefs.Invalid(errNoNetwork)
	case connected(rec, name):
		return errdefs.Forbidden("endpoint with name %s already exists in network %s", rec.Name, name)
	}
	return nil
}

// connectFurther connects a container that has a network to one more:
// kept in the record, and plugged in at once when it runs.
func (s *Service) connectFurther(ctx context.Context, e *entry, name string, es *network.EndpointSettings) error {
	rec := &e.rec
	hc := *rec.HostConfig
	hc.NetworkMode = container.NetworkMode(name)
	mac, ip, aliases, err := endpointOptions(&hc, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{name: es}})
	if err != nil {
		return err
	}
	c := Connection{Network: name, IP: ip, Aliases: aliases, MAC: mac}
	var ep *gnet.Endpoint
	if rec.State.Running() {
		if rec.Network == nil {
			return errdefs.Invalid(errNoNetwork)
		}
		if ep, err = s.plugConnection(ctx, rec, c); err != nil {
			return err
		}
		rec.Extra = append(rec.Extra, ep)
	}
	oldMode, oldDisconnected, oldIP, oldAliases, oldConnections := rec.HostConfig.NetworkMode, rec.NetworkDisconnected, rec.IP, rec.Aliases, rec.Connections
	if rec.NetworkDisconnected {
		// It left its first network while running: this one is the first
		// at its next start.
		rec.HostConfig.NetworkMode = container.NetworkMode(name)
		rec.NetworkDisconnected = false
		rec.IP, rec.Aliases = ip, aliases
	} else {
		rec.Connections = append(rec.Connections, c)
	}
	if err := s.persist(e); err != nil {
		rec.HostConfig.NetworkMode, rec.NetworkDisconnected, rec.IP, rec.Aliases, rec.Connections = oldMode, oldDisconnected, oldIP, oldAliases, oldConnections
		if ep != nil {
			rec.Extra = rec.Extra[:len(rec.Extra)-1]
			_ = s.cfg.Network.Detach(context.Background(), ep)
		}
		return err
	}
	if ep != nil {
		s.refreshNetFiles(rec)
	}
	return nil
}

// disconnectRunning takes a running container off one of its networks:
// the interface, address, DNS names and rules go at once. Leaving the
// first network keeps the namespace (its other interfaces stay).
func (s *Service) disconnectRunning(ctx context.Context, e *entry, name string, force bool) error {
	rec := &e.rec
	ep := liveEndpoint(rec, name)
	if ep != nil {
		release := *ep
		if ep == rec.Network {
			release.Ifname = "eth0" // keep the namespace: the container still runs in it
		}
		if err := s.cfg.Network.Detach(ctx, &release); err != nil && !force {
			return fmt.Errorf("disconnecting container %s from network %s: %w", rec.Name, name, err)
		}
		s.publishEndpoint(eventtypes.ActionDisconnect, rec.ID, ep)
		if ep == rec.Network {
			// What is left is the namespace, released at the exit.
			rec.Network = &gnet.Endpoint{Netns: ep.Netns}
		} else {
			rec.Extra = slices.DeleteFunc(rec.Extra, func(x *gnet.Endpoint) bool { return x == ep })
		}
	}
	forgetConnection(rec, name)
	if err := s.persist(e); err != nil {
		return err
	}
	s.refreshNetFiles(rec)
	return nil
}

// forgetConnection drops a network from the record; leaving the first
// one makes the next connected network the first at the next start.
func forgetConnection(rec *Record, name string) {
	if onNetwork(rec.HostConfig, name) && !rec.NetworkDisconnected {
		if len(rec.Connections) > 0 {
			c := rec.Connections[0]
			rec.Connections = rec.Connections[1:]
			rec.HostConfig.NetworkMode = container.NetworkMode(c.Network)
			rec.IP, rec.Aliases = c.IP, c.Aliases
			if c.MAC != "" {
				rec.MacAddress = c.MAC
			}
			return
		}
		// Started like this, it has loopback only, as Docker's container
		// without networks.
		rec.HostConfig.NetworkMode = "none"
		rec.NetworkDisconnected = true
		rec.IP, rec.Aliases = netip.Addr{}, nil
		return
	}
	rec.Connections = slices.DeleteFunc(rec.Connections, func(c Connection) bool { return c.Network == name })
}

// refreshNetFiles rewrites a running container's /etc/hosts (a line per
// address, as Docker's) and, once it is on a network with names, its
// resolv.conf pointing at the embedded DNS server. They are bind-mounted
// files: a rename would leave the container the old inode, so they are
// rewritten in place, as Docker rewrites them.
func (s *Service) refreshNetFiles(rec *Record) {
	dir := s.containerDir(rec.ID)
	if err := rewriteInPlace(filepath.Join(dir, "hosts"), s.hostsFile(rec)); err != nil {
		s.log.Warn("rewriting a container's /etc/hosts", "id", rec.ID, "err", err)
	}
	if len(rec.HostConfig.DNS) > 0 {
		return
	}
	for _, ep := range rec.Extra {
		if ep.DNS {
			if err := rewriteInPlace(filepath.Join(dir, "resolv.conf"), embeddedResolvConf(rec.HostConfig)); err != nil {
				s.log.Warn("rewriting a container's resolv.conf", "id", rec.ID, "err", err)
			}
			return
		}
	}
}

func rewriteInPlace(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// extraHostsLines are /etc/hosts' lines of the further networks.
func extraHostsLines(rec *Record) string {
	var out string
	for _, ep := range rec.Extra {
		out += ep.IP.String() + "\t" + rec.Config.Hostname + "\n"
	}
	return out
}

// extraNetworkSettings adds the further networks to inspect's Networks.
func extraNetworkSettings(rec *Record, nets map[string]*network.EndpointSettings) {
	for _, c := range rec.Connections {
		es := &network.EndpointSettings{Aliases: c.Aliases}
		if ep := liveEndpoint(rec, c.Network); ep != nil && rec.State.Running() {
			fillEndpointSettings(es, ep)
		}
		if c.IP.IsValid() {
			es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: c.IP}
		}
		es.DNSNames = append([]string{rec.Name, rec.ID[:12]}, c.Aliases...)
		nets[c.Network] = es
	}
}

func fillEndpointSettings(es *network.EndpointSettings, ep *gnet.Endpoint) {
	es.NetworkID, es.EndpointID = ep.NetworkID, ep.EndpointID
	es.Gateway, es.IPAddress, es.IPPrefixLen = ep.Gateway, ep.IP, ep.PrefixLen
	if mac, err := net.ParseMAC(ep.MAC); err == nil {
		es.MacAddress = network.HardwareAddr(mac)
	}
}

// isPrimaryEndpoint tells whether a create's endpoint settings are those
// of the network the container starts on.
func isPrimaryEndpoint(hc *container.HostConfig, name string) bool {
	return name == string(hc.NetworkMode) || name == "default" || (name == "bridge" && onBridge(hc))
}

// connectionsAtCreate are the further networks of a create (API 1.44+:
// `docker run --network a --network b`), checked as connect checks them.
func (s *Service) connectionsAtCreate(hc *container.HostConfig, nc *network.NetworkingConfig) ([]Connection, error) {
	if nc == nil {
		return nil, nil
	}
	names := make([]string, 0, len(nc.EndpointsConfig))
	for name := range nc.EndpointsConfig {
		if !isPrimaryEndpoint(hc, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var out []Connection
	for _, ref := range names {
		mode := hc.NetworkMode
		switch {
		case mode.IsContainer() || mode.IsHost() || ref == "host":
			return nil, errdefs.Invalid(errSharedNetwork)
		case mode.IsNone() || ref == "none":
			return nil, errdefs.Invalid(errNoNetwork)
		}
		name, err := s.networkName(ref)
		if err != nil {
			return nil, err
		}
		if onNetwork(hc, name) || slices.ContainsFunc(out, func(c Connection) bool { return c.Network == name }) {
			continue
		}
		further := *hc
		further.NetworkMode = container.NetworkMode(name)
		es := nc.EndpointsConfig[ref]
		if es == nil {
			es = &network.EndpointSettings{}
		}
		mac, ip, aliases, err := endpointOptions(&further, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{name: es}})
		if err != nil {
			return nil, err
		}
		out = append(out, Connection{Network: name, IP: ip, Aliases: aliases, MAC: mac})
	}
	return out, nil
}

// runningEndpoints are every endpoint of a running container, for the
// network's reconciliation after a restart.
func runningEndpoints(rec *Record) []*gnet.Endpoint {
	return append([]*gnet.Endpoint{rec.Network}, rec.Extra...)
}
