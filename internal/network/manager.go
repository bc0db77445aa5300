// Package network is gantry's container networking: the default bridge
// with its subnet from an address pool, persisted address leases, a veth
// pair per container in a network namespace the daemon makes, outbound
// NAT and published ports in an nftables table of the bridge's own, and
// the host ports held while they are published.
package network

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/atomicfile"
	"github.com/gantry-dev/gantry/internal/errdefs"
)

// DefaultBridge is the default bridge's interface name.
const DefaultBridge = "gantry0"

// Config is what the daemon gives the network manager.
type Config struct {
	Bridge   string       // the bridge's name; DefaultBridge if empty
	BIP      netip.Prefix // the bridge's address and subnet length; from Pools if zero
	Pools    []Pool       // DefaultPools if empty
	DataRoot string       // network/ lives here
	ExecRoot string       // netns/ lives here
	Log      *slog.Logger
	// Of a user network: its name and ID, no route out (--internal),
	// and the embedded DNS server in its containers.
	Name     string
	ID       string
	Internal bool
	DNS      bool
	// Upstream resolvers of the embedded DNS server.
	Upstreams func() []string
}

// Endpoint is a container's place on the bridge, kept in its record.
type Endpoint struct {
	Network    string        `json:"network"`
	NetworkID  string        `json:"networkID"`
	EndpointID string        `json:"endpointID"`
	Bridge     string        `json:"bridge"`
	Netns      string        `json:"netns"`
	HostVeth   string        `json:"hostVeth"`
	IP         netip.Addr    `json:"ip"`
	PrefixLen  int           `json:"prefixLen"`
	Gateway    netip.Addr    `json:"gateway"`
	MAC        string        `json:"mac"`
	Ports      []PortMapping `json:"ports,omitempty"`
	Name       string        `json:"name,omitempty"`
	Aliases    []string      `json:"aliases,omitempty"`
	DNS        bool          `json:"dns,omitempty"` // served by the embedded DNS at 127.0.0.11
	// Ifname is the interface inside: empty for eth0, whose endpoint owns
	// the namespace; eth1… for a network connected to a running container.
	Ifname string `json:"ifname,omitempty"`

	plugging *plugging // an Attach with Background whose veth is being made
}

// ownsNetns tells whether releasing the endpoint releases the namespace.
func (ep *Endpoint) ownsNetns() bool { return ep.Ifname == "" }

// AttachRequest is a container joining the default bridge.
type AttachRequest struct {
	ID    string // the container's ID: owner of the lease and ports
	Name  string // for messages, as Docker's
	Ports []PortRequest
	MAC   string // --mac-address; derived from the address if empty
	// Of a user network: its name or ID, --ip, --alias.
	Network string
	IP      netip.Addr
	Aliases []string
	// Background: return once the namespace exists and the address and
	// ports are held; the veth, its addresses and routes and the port
	// rules are made on a goroutine (Endpoint.Wait). For eth0 only.
	Background bool
}

// Manager is the default bridge of one daemon.
type Manager struct {
	cfg       Config
	log       *slog.Logger
	dir       string
	netnsDir  string
	networkID string
	subnet    netip.Prefix
	gateway   netip.Addr
	bridge    netlink.Link
	fw        *firewall

	mu     sync.Mutex
	leases *leases
	holds  *portHolds
	active map[string]*Endpoint // by container ID
	// unplugging are the veths being deleted in the background, by host
	// name; the channel closes when the link is gone.
	unplugging map[string]chan struct{}
}

// bridgeState is what survives a restart beside the leases.
type bridgeState struct {
	ID     string       `json:"id"`
	Subnet netip.Prefix `json:"subnet"`
}

// Open finds or makes the bridge: an existing one keeps its address; else
// --bip, else the subnet of the last run if still free, else the first
// free subnet of the pools. Its rules are set up by Reconcile.
func Open(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Bridge == "" {
		cfg.Bridge = DefaultBridge
	}
	if len(cfg.Bridge) > unix.IFNAMSIZ-1 {
		return nil, errdefs.Invalid("bridge name %q is longer than %d characters", cfg.Bridge, unix.IFNAMSIZ-1)
	}
	if len(cfg.Pools) == 0 {
		cfg.Pools = DefaultPools()
	}
	m := &Manager{
		cfg:      cfg,
		log:      cfg.Log,
		dir:      filepath.Join(cfg.DataRoot, "network", cfg.Bridge),
		netnsDir: filepath.Join(cfg.ExecRoot, "netns"),
		holds:    newPortHolds(),
		active:   map[string]*Endpoint{},

		unplugging: map[string]chan struct{}{},
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return nil, err
	}
	var st bridgeState
	if data, err := os.ReadFile(filepath.Join(m.dir, "bridge.json")); err == nil {
		_ = json.Unmarshal(data, &st)
	}
	if cfg.ID != "" {
		st.ID = cfg.ID
	}
	if st.ID == "" {
		st.ID = randomID()
	}
	m.networkID = st.ID
	gw, err := m.setUpBridge(st.Subnet)
	if err != nil {
		return nil, err
	}
	m.subnet, m.gateway = gw.Masked(), gw.Addr()
	st.Subnet = m.subnet
	data, _ := json.Marshal(st)
	if err := atomicfile.Write(filepath.Join(m.dir, "bridge.json"), data, 0o600); err != nil {
		return nil, err
	}
	if m.leases, err = loadLeases(filepath.Join(m.dir, "leases.json"), m.subnet, m.gateway); err != nil {
		return nil, err
	}
	m.fw = newFirewall(cfg.Bridge, m.subnet)
	m.fw.internal = cfg.Internal
	return m, nil
}

// setUpBridge chooses the bridge's address under a host-wide lock, so
// daemons starting together never take the same subnet.
func (m *Manager) setUpBridge(last netip.Prefix) (netip.Prefix, error) {
	unlock, err := hostLock()
	if err != nil {
		return netip.Prefix{}, err
	}
	defer unlock()
	link, have, err := bridgeAddr(m.cfg.Bridge)
	if err != nil {
		return netip.Prefix{}, err
	}
	gw := have
	switch {
	case m.cfg.BIP.IsValid():
		gw = m.cfg.BIP
	case have.IsValid():
	default:
		used, err := hostPrefixes(link)
		if err != nil {
			return netip.Prefix{}, err
		}
		subnet := last
		if !subnet.IsValid() || overlapsAny(subnet, used) {
			if subnet, err = firstFree(m.cfg.Pools, used); err != nil {
				return netip.Prefix{}, err
			}
		}
		gw = netip.PrefixFrom(subnet.Addr().Next(), subnet.Bits())
	}
	if m.bridge, err = createBridge(m.cfg.Bridge, link, gw); err != nil {
		return netip.Prefix{}, err
	}
	return gw, nil
}

// hostLock serialises the choice of subnets between daemons on this host.
func hostLock() (func(), error) {
	if err := os.MkdirAll("/run/lock", 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile("/run/lock/gantry-network.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// Subnet and Gateway describe the bridge.
func (m *Manager) Subnet() netip.Prefix { return m.subnet }

// Gateway is the bridge's own address.
func (m *Manager) Gateway() netip.Addr { return m.gateway }

// Bridge is the bridge's interface name.
func (m *Manager) Bridge() string { return m.cfg.Bridge }

// NetworkID is the default bridge's ID in the API.
func (m *Manager) NetworkID() string { return m.networkID }

// NetnsPath is where a container's network namespace is kept.
func (m *Manager) NetnsPath(id string) string { return filepath.Join(m.netnsDir, id) }

// Attach gives a container its network: an address, its published host
// ports, a namespace with eth0 on the bridge, and the DNAT rules. A
// failure undoes all of it.
func (m *Manager) Attach(ctx context.Context, req AttachRequest) (_ *Endpoint, err error) {
	return m.attach(ctx, req, "")
}

// attach is Attach for eth0 (ifname empty: a new namespace) or for a
// further interface in the namespace of a running container.
func (m *Manager) attach(ctx context.Context, req AttachRequest, ifname string) (_ *Endpoint, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.active[req.ID]; ok {
		if ifname != "" {
			return nil, errdefs.Forbidden("endpoint with name %s already exists in network %s", req.Name, m.name())
		}
		m.detachLocked(old)
	}
	ip, err := m.leases.allocate(req.ID, req.IP)
	if err != nil {
		return nil, err
	}
	ep := &Endpoint{
		Network:    m.name(),
		Ifname:     ifname,
		Name:       req.Name,
		Aliases:    req.Aliases,
		DNS:        m.cfg.DNS,
		NetworkID:  m.networkID,
		EndpointID: endpointID(req.ID, m.networkID),
		Bridge:     m.cfg.Bridge,
		Netns:      m.NetnsPath(req.ID),
		HostVeth:   vethName(req.ID),
		IP:         ip,
		PrefixLen:  m.subnet.Bits(),
		Gateway:    m.gateway,
	}
	mac := macFor(ip)
	if req.MAC != "" {
		if mac, err = net.ParseMAC(req.MAC); err != nil {
			_ = m.leases.release(req.ID)
			return nil, errdefs.Invalid("invalid MAC address: %s", req.MAC)
		}
	}
	ep.MAC = mac.String()
	if ifname != "" {
		ep.HostVeth = vethName(ep.EndpointID)
		if len(req.Ports) > 0 {
			_ = m.leases.release(req.ID)
			return nil, errdefs.Invalid("ports are published on the network a container starts with")
		}
	}
	defer func() {
		if err != nil {
			m.detachLocked(ep)
		}
	}()
	ports, err := m.holds.reserve(req.ID, req.Ports, ip)
	if err != nil {
		return nil, fmt.Errorf("driver failed programming external connectivity on endpoint %s (%s): %w", req.Name, ep.EndpointID, err)
	}
	ep.Ports = ports
	if ch, ok := m.unplugging[ep.HostVeth]; ok {
		<-ch // the same container's last veth, still being deleted
	}
	if ep.ownsNetns() {
		_ = removeNetns(ep.Netns) // a crashed start's
		if err := createNetns(ep.Netns); err != nil {
			return nil, err
		}
	}
	plug := func() error {
		if err := plugVeth(m.bridge, ep.HostVeth, ep.Netns, ifname, mac, netip.PrefixFrom(ip, m.subnet.Bits()), m.gateway); err != nil {
			return err
		}
		m.active[req.ID] = ep
		if len(ports) > 0 {
			if err := m.fw.setPorts(m.activePorts()); err != nil {
				delete(m.active, req.ID)
				return err
			}
		}
		return nil
	}
	if req.Background && ifname == "" {
		p := &plugging{done: make(chan struct{})}
		ep.plugging = p
		go func() {
			m.mu.Lock() // once attach has returned
			defer m.mu.Unlock()
			if p.err = plug(); p.err != nil {
				m.detachLocked(ep)
			}
			close(p.done)
		}()
		return ep, nil
	}
	if err := plug(); err != nil {
		return nil, err
	}
	return ep, nil
}

// plugging is the outcome of a background attach, once done is closed.
type plugging struct {
	done chan struct{}
	err  error
}

// Wait returns once the endpoint is plugged, with what went wrong if it
// could not be (the endpoint is then detached already). Safe on a nil
// endpoint and on one attached in the foreground.
func (ep *Endpoint) Wait() error {
	if ep == nil || ep.plugging == nil {
		return nil
	}
	<-ep.plugging.done
	return ep.plugging.err
}

// Detach undoes Attach; it is safe to call for an endpoint already gone.
func (m *Manager) Detach(ctx context.Context, ep *Endpoint) error {
	if ep == nil {
		return nil
	}
	if ep.Wait() != nil {
		return nil // it detached itself
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.detachLocked(ep)
}

func (m *Manager) detachLocked(ep *Endpoint) error {
	id := filepath.Base(ep.Netns)
	var errs []error
	if _, ok := m.active[id]; ok {
		delete(m.active, id)
		if len(ep.Ports) > 0 {
			errs = append(errs, m.fw.setPorts(m.activePorts()))
		}
	}
	m.holds.release(id)
	if !ep.ownsNetns() {
		// A further interface, or eth0 of a container that still runs:
		// the namespace lives on, so the link goes now.
		errs = append(errs, unplugVeth(ep.HostVeth), m.leases.release(id))
		return errors.Join(errs...)
	}
	errs = append(errs, removeNetns(ep.Netns))
	m.unplugLater(id, ep.HostVeth)
	return errors.Join(errs...)
}

// unplugLater deletes the veth of a container whose namespace is gone, in
// the background: the kernel takes about 20 ms to delete a link (an RCU
// grace period), which the exit of every container would otherwise wait
// for. The address stays leased until the link is gone; a new attach of
// the same container waits for it.
func (m *Manager) unplugLater(id, hostVeth string) {
	done := make(chan struct{})
	m.unplugging[hostVeth] = done
	go func() {
		if err := unplugVeth(hostVeth); err != nil {
			m.log.Debug("deleting a container's veth", "veth", hostVeth, "err", err)
		}
		close(done) // before the lock: an attach may wait for it holding it
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.unplugging[hostVeth] == done {
			delete(m.unplugging, hostVeth)
		}
		if _, again := m.active[id]; !again {
			if err := m.leases.release(id); err != nil {
				m.log.Warn("releasing an address", "container", id, "err", err)
			}
		}
	}()
}

// name is the network's name in the API.
func (m *Manager) name() string {
	if m.cfg.Name == "" {
		return "bridge"
	}
	return m.cfg.Name
}

// activePorts are the DNAT rules of every attached container.
func (m *Manager) activePorts() []activePort {
	var out []activePort
	ids := make([]string, 0, len(m.active))
	for id := range m.active {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		ep := m.active[id]
		for _, p := range ep.Ports {
			out = append(out, activePort{PortMapping: p, Owner: id, ContainerIP: ep.IP})
		}
	}
	return out
}

// Reconcile is called once the containers are loaded, with the endpoints
// of those still running: it rebuilds the rules (in one transaction: none
// doubled, none of a container that is gone), takes their host ports
// again, and drops the leases, namespaces and veths nobody owns.
func (m *Manager) Reconcile(ctx context.Context, running map[string][]*Endpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	for id, eps := range running {
		ep := m.endpointOf(eps)
		if ep == nil {
			continue
		}
		m.active[id] = ep
		if _, ok := m.leases.ByOwner[id]; !ok {
			_ = m.leases.set(id, ep.IP)
		}
		for _, p := range ep.Ports {
			c, _, err := bindPort(p.Proto, p.HostIP, p.HostPort)
			if err != nil {
				m.log.Warn("taking a published port again", "id", id, "port", p.HostPort, "err", err)
				continue
			}
			m.holds.hold(id, portKey{p.Proto, p.HostIP, p.HostPort}, c)
		}
	}
	for id := range m.leases.ByOwner {
		if _, ok := m.active[id]; !ok {
			_ = m.leases.release(id)
		}
	}
	if links, err := netlink.LinkList(); err == nil {
		owned := map[string]bool{}
		for _, ep := range m.active {
			owned[ep.HostVeth] = true
		}
		for _, l := range links {
			a := l.Attrs()
			if a.MasterIndex == m.bridge.Attrs().Index && strings.HasPrefix(a.Name, "veth") && !owned[a.Name] {
				_ = netlink.LinkDel(l)
			}
		}
	}
	return m.fw.rebuild(m.activePorts())
}

// endpointOf is the one of a container's endpoints on this bridge.
func (m *Manager) endpointOf(eps []*Endpoint) *Endpoint {
	for _, ep := range eps {
		if ep != nil && ep.Bridge == m.cfg.Bridge {
			return ep
		}
	}
	return nil
}

// vethName is the host side of a container's pair: "veth" and 11
// characters of its ID, within IFNAMSIZ.
func vethName(id string) string {
	if len(id) > 11 {
		id = id[:11]
	}
	return "veth" + id
}

func endpointID(containerID, networkID string) string {
	sum := sha256.Sum256([]byte(containerID + "/" + networkID))
	return hex.EncodeToString(sum[:])
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Endpoints are the attached containers' endpoints, for DNS and inspect.
func (m *Manager) Endpoints() map[string]Endpoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]Endpoint, len(m.active))
	for id, ep := range m.active {
		out[id] = *ep
	}
	return out
}

// lookup finds the address of a container of this network by name,
// alias or short ID, as Docker's embedded DNS answers.
func (m *Manager) lookup(name string) (netip.Addr, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, ep := range m.active {
		if strings.EqualFold(ep.Name, name) || (len(name) >= 12 && strings.HasPrefix(id, name)) {
			return ep.IP, true
		}
		for _, a := range ep.Aliases {
			if strings.EqualFold(a, name) {
				return ep.IP, true
			}
		}
	}
	return netip.Addr{}, false
}

// Destroy removes the bridge, its rules and its state: a removed network.
func (m *Manager) Destroy() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.active) > 0 {
		return errdefs.Conflict("error while removing network: network %s id %s has active endpoints", m.cfg.Name, m.networkID)
	}
	return errors.Join(RemoveFirewall(m.cfg.Bridge), RemoveBridge(m.cfg.Bridge), os.RemoveAll(m.dir))
}

// InUse tells whether a container is attached.
func (m *Manager) InUse() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.active) > 0
}
