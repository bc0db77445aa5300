package network

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/network"

	"github.com/gantry-dev/gantry/internal/atomicfile"
	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Info is a user network as it is kept in <data-root>/network/networks.json.
type Info struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Bridge   string            `json:"bridge"`
	Subnet   netip.Prefix      `json:"subnet"`
	Gateway  netip.Addr        `json:"gateway"`
	Internal bool              `json:"internal,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Options  map[string]string `json:"options,omitempty"`
	Created  time.Time         `json:"created"`
}

// Registry is every network of a daemon: the default bridge (nil with
// `--bridge none`), host, none, and the user's bridge networks.
type Registry struct {
	cfg  Config
	def  *Manager
	path string

	mu   sync.Mutex
	user map[string]*userNet // by ID
	// Event is told of network create and destroy.
	Event func(action, id, name string)
	dns   resolvers
}

type userNet struct {
	info Info
	m    *Manager
}

// OpenRegistry opens the default bridge (unless defaultBridge is false)
// and the user networks kept from the last run.
func OpenRegistry(ctx context.Context, cfg Config, defaultBridge bool) (*Registry, error) {
	r := &Registry{cfg: cfg, path: filepath.Join(cfg.DataRoot, "network", "networks.json"), user: map[string]*userNet{}}
	if defaultBridge {
		def, err := Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		r.def = def
	}
	var infos []Info
	if data, err := os.ReadFile(r.path); err == nil {
		if err := json.Unmarshal(data, &infos); err != nil {
			return nil, err
		}
	}
	for _, in := range infos {
		m, err := r.openUser(ctx, in)
		if err != nil {
			return nil, err
		}
		r.user[in.ID] = &userNet{info: in, m: m}
	}
	return r, nil
}

func (r *Registry) openUser(ctx context.Context, in Info) (*Manager, error) {
	c := r.cfg
	c.Bridge, c.BIP, c.Name, c.ID, c.Internal, c.DNS = in.Bridge, netip.PrefixFrom(in.Gateway, in.Subnet.Bits()), in.Name, in.ID, in.Internal, true
	c.Upstreams = HostResolvers
	return Open(ctx, c)
}

func (r *Registry) save() error {
	infos := make([]Info, 0, len(r.user))
	for _, u := range r.user {
		infos = append(infos, u.info)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Created.Before(infos[j].Created) })
	data, err := json.Marshal(infos)
	if err != nil {
		return err
	}
	return atomicfile.Write(r.path, data, 0o600)
}

// managers are every bridge's manager.
func (r *Registry) managers() []*Manager {
	var out []*Manager
	if r.def != nil {
		out = append(out, r.def)
	}
	for _, u := range r.user {
		out = append(out, u.m)
	}
	return out
}

func (r *Registry) bridges() []string {
	var out []string
	for _, m := range r.managers() {
		out = append(out, m.cfg.Bridge)
	}
	return out
}

// find resolves a user network by name, full ID or unique ID prefix.
func (r *Registry) find(ref string) (*userNet, error) {
	for _, u := range r.user {
		if u.info.Name == ref || u.info.ID == ref {
			return u, nil
		}
	}
	var found *userNet
	for id, u := range r.user {
		if ref != "" && strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, errdefs.Invalid("network %s is ambiguous", ref)
			}
			found = u
		}
	}
	if found == nil {
		return nil, errdefs.NotFound("network %s not found", ref)
	}
	return found, nil
}

// Known tells whether a container may use this network mode, and the
// name it is known by.
func (r *Registry) Known(mode string) (string, error) {
	switch mode {
	case "", "default", "bridge":
		if r.def == nil {
			return "", errdefs.NotFound("network bridge not found: the daemon runs with --bridge none")
		}
		return "bridge", nil
	case "host", "none":
		return mode, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	u, err := r.find(mode)
	if err != nil {
		return "", err
	}
	return u.info.Name, nil
}

// manager is the bridge a network name, or an endpoint's bridge, is on.
func (r *Registry) manager(name string) (*Manager, error) {
	if name == "" || name == "bridge" || name == "default" {
		if r.def == nil {
			return nil, errdefs.NotFound("network bridge not found")
		}
		return r.def, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	u, err := r.find(name)
	if err != nil {
		return nil, err
	}
	return u.m, nil
}

func (r *Registry) log() *slog.Logger {
	if r.cfg.Log != nil {
		return r.cfg.Log
	}
	return slog.Default()
}

// Reconcile hands each bridge the endpoints of its running containers.
func (r *Registry) Reconcile(ctx context.Context, running map[string][]*Endpoint) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The namespaces no running container is in (a crash's) go.
	netnsDir := filepath.Join(r.cfg.ExecRoot, "netns")
	if ents, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range ents {
			if _, ok := running[e.Name()]; !ok {
				_ = removeNetns(filepath.Join(netnsDir, e.Name()))
			}
		}
	}
	others := r.bridges()
	var errs []error
	for _, m := range r.managers() {
		m.fw.others = others
		errs = append(errs, m.Reconcile(ctx, running))
	}
	// The DNS servers lived in the last daemon: serve each namespace again.
	for id, eps := range running {
		for _, ep := range eps {
			if ep != nil && ep.DNS {
				if err := r.serveDNS(id, ep); err != nil {
					r.log().Warn("starting a container's DNS server again", "id", id, "err", err)
				}
				break
			}
		}
	}
	return errors.Join(errs...)
}

// Gateway is the default bridge's address (for host-gateway).
func (r *Registry) Gateway() netip.Addr {
	if r.def == nil {
		return netip.Addr{}
	}
	return r.def.Gateway()
}

// Create makes a user bridge network.
func (r *Registry) Create(ctx context.Context, req network.CreateRequest) (string, error) {
	if req.Name == "" {
		return "", errdefs.Invalid("network name cannot be empty")
	}
	if req.Driver != "" && req.Driver != "bridge" {
		return "", errdefs.NotFound("plugin %q not found: gantry has the bridge driver only", req.Driver)
	}
	if req.EnableIPv6 != nil && *req.EnableIPv6 {
		return "", errdefs.Invalid("IPv6 networks are not supported: gantry's bridges are IPv4 only")
	}
	switch req.Name {
	case "bridge", "host", "none", "default":
		return "", errdefs.Forbidden("%s is a pre-defined network and cannot be created", req.Name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range r.user {
		if u.info.Name == req.Name {
			return "", errdefs.Conflict("network with name %s already exists", req.Name)
		}
	}
	in := Info{ID: randomID(), Name: req.Name, Internal: req.Internal, Labels: req.Labels, Options: req.Options, Created: time.Now().UTC()}
	in.Bridge = "br-" + in.ID[:12]
	if b := req.Options["com.docker.network.bridge.name"]; b != "" {
		in.Bridge = b
	}
	var existing []netip.Prefix
	for _, m := range r.managers() {
		existing = append(existing, m.subnet)
	}
	unlock, err := hostLock()
	if err != nil {
		return "", err
	}
	used, err := hostPrefixes(nil)
	unlock()
	if err != nil {
		return "", err
	}
	if req.IPAM != nil && len(req.IPAM.Config) > 0 {
		if len(req.IPAM.Config) > 1 {
			return "", errdefs.Invalid("gantry's networks take one subnet")
		}
		c := req.IPAM.Config[0]
		if !c.Subnet.IsValid() || !c.Subnet.Addr().Is4() {
			return "", errdefs.Invalid("invalid subnet %s: an IPv4 subnet is needed", c.Subnet)
		}
		in.Subnet = c.Subnet.Masked()
		if overlapsAny(in.Subnet, existing) || overlapsAny(in.Subnet, used) {
			return "", errdefs.Forbidden("invalid pool request: Pool overlaps with other one on this address space")
		}
		in.Gateway = in.Subnet.Addr().Next()
		if c.Gateway.IsValid() {
			if !in.Subnet.Contains(c.Gateway) {
				return "", errdefs.Invalid("no matching subnet for gateway %s", c.Gateway)
			}
			in.Gateway = c.Gateway
		}
	} else {
		pools := r.cfg.Pools
		if len(pools) == 0 {
			pools = DefaultPools()
		}
		s, err := firstFree(pools, append(existing, used...))
		if err != nil {
			return "", err
		}
		in.Subnet, in.Gateway = s, s.Addr().Next()
	}
	m, err := r.openUser(ctx, in)
	if err != nil {
		_ = RemoveBridge(in.Bridge)
		return "", err
	}
	r.user[in.ID] = &userNet{info: in, m: m}
	others := r.bridges()
	for _, x := range r.managers() {
		x.fw.others = others
	}
	if err := m.Reconcile(ctx, nil); err == nil {
		err = r.syncIsolation(others)
	}
	if err == nil {
		err = r.save()
	}
	if err != nil {
		delete(r.user, in.ID)
		_ = m.Destroy()
		return "", err
	}
	r.event("create", in.ID, in.Name)
	return in.ID, nil
}

func (r *Registry) syncIsolation(others []string) error {
	var errs []error
	for _, m := range r.managers() {
		errs = append(errs, m.fw.setIsolation(others))
	}
	return errors.Join(errs...)
}

func (r *Registry) event(action, id, name string) {
	if r.Event != nil {
		r.Event(action, id, name)
	}
}

// Remove deletes a user network that no running container uses.
func (r *Registry) Remove(ctx context.Context, ref string) error {
	switch ref {
	case "bridge", "host", "none":
		return errdefs.Forbidden("%s is a pre-defined network and cannot be removed", ref)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	u, err := r.find(ref)
	if err != nil {
		return err
	}
	return r.removeLocked(u)
}

func (r *Registry) removeLocked(u *userNet) error {
	if err := u.m.Destroy(); err != nil {
		return err
	}
	delete(r.user, u.info.ID)
	if err := r.save(); err != nil {
		return err
	}
	_ = r.syncIsolation(r.bridges())
	r.event("destroy", u.info.ID, u.info.Name)
	return nil
}

// Prune removes the user networks no container uses, except those
// inUse says a container names.
func (r *Registry) Prune(ctx context.Context, inUse func(name string) bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, u := range r.user {
		if u.m.InUse() || (inUse != nil && inUse(u.info.Name)) {
			continue
		}
		if r.removeLocked(u) == nil {
			out = append(out, u.info.Name)
		}
	}
	sort.Strings(out)
	return out
}

// List describes every network, the pre-defined ones first.
func (r *Registry) List() []network.Inspect {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []network.Inspect
	if r.def != nil {
		out = append(out, describe(Info{ID: r.def.networkID, Name: "bridge", Bridge: r.def.cfg.Bridge, Subnet: r.def.subnet, Gateway: r.def.gateway,
			Options: map[string]string{"com.docker.network.bridge.default_bridge": "true", "com.docker.network.bridge.name": r.def.cfg.Bridge}}, r.def))
	}
	for _, n := range []string{"host", "none"} {
		sum := sha256.Sum256([]byte("gantry network " + n + r.cfg.DataRoot))
		in := describe(Info{ID: hex.EncodeToString(sum[:]), Name: n}, nil)
		in.Driver = map[string]string{"host": "host", "none": "null"}[n]
		in.IPAM.Config = []network.IPAMConfig{}
		out = append(out, in)
	}
	users := make([]*userNet, 0, len(r.user))
	for _, u := range r.user {
		users = append(users, u)
	}
	sort.Slice(users, func(i, j int) bool { return users[i].info.Created.Before(users[j].info.Created) })
	for _, u := range users {
		out = append(out, describe(u.info, u.m))
	}
	return out
}

// Inspect describes one network by name, ID or ID prefix.
func (r *Registry) Inspect(ref string) (network.Inspect, error) {
	list := r.List()
	for _, n := range list {
		if n.Name == ref || n.ID == ref {
			return n, nil
		}
	}
	var found []network.Inspect
	for _, n := range list {
		if strings.HasPrefix(n.ID, ref) {
			found = append(found, n)
		}
	}
	if len(found) == 1 && ref != "" {
		return found[0], nil
	}
	return network.Inspect{}, errdefs.NotFound("network %s not found", ref)
}

func describe(in Info, m *Manager) network.Inspect {
	n := network.Inspect{Network: network.Network{
		Name: in.Name, ID: in.ID, Created: in.Created, Scope: "local", Driver: "bridge", EnableIPv4: true,
		Internal: in.Internal, Options: in.Options, Labels: in.Labels,
		IPAM: network.IPAM{Driver: "default", Options: map[string]string{}},
	}, Containers: map[string]network.EndpointResource{}}
	if n.Options == nil {
		n.Options = map[string]string{}
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	if in.Subnet.IsValid() {
		n.IPAM.Config = []network.IPAMConfig{{Subnet: in.Subnet, Gateway: in.Gateway}}
	}
	if m != nil {
		for id, ep := range m.Endpoints() {
			mac, _ := parseMAC(ep.MAC)
			n.Containers[id] = network.EndpointResource{Name: ep.Name, EndpointID: ep.EndpointID, MacAddress: mac, IPv4Address: netip.PrefixFrom(ep.IP, ep.PrefixLen)}
		}
	}
	return n
}
