package network

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"sync"

	"github.com/miekg/dns"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// A container may be on several networks: eth0 on the one it started
// with (its endpoint owns the namespace), eth1… on networks connected
// while it runs. The embedded DNS server is the container's, not a
// network's: it answers with the names of every network of the container
// that has one, so it is kept here, by the registry.

// resolvers are the embedded DNS servers, by container ID.
type resolvers struct {
	mu  sync.Mutex
	srv map[string]*dnsServer
}

// Plug connects a running container (its namespace the one Attach made)
// to one more network as ifname: an address from its leases, a veth into
// the namespace, and its names in the network's DNS. A failure leaves
// nothing behind.
func (r *Registry) Plug(ctx context.Context, req AttachRequest, ifname string) (*Endpoint, error) {
	if ifname == "" || ifname == "eth0" {
		return nil, errdefs.Invalid("the first interface is made at the start")
	}
	m, err := r.manager(req.Network)
	if err != nil {
		return nil, err
	}
	if m == r.def && (req.IP.IsValid() || len(req.Aliases) > 0) {
		return nil, errdefs.Invalid("user specified IP address is supported on user defined networks only")
	}
	ep, err := m.attach(ctx, req, ifname)
	if err != nil {
		return nil, err
	}
	if err := r.serveDNS(req.ID, ep); err != nil {
		_ = m.Detach(ctx, ep)
		return nil, err
	}
	return ep, nil
}

// Attach puts a container on its network (eth0, in a new namespace).
func (r *Registry) Attach(ctx context.Context, req AttachRequest) (*Endpoint, error) {
	m, err := r.manager(req.Network)
	if err != nil {
		return nil, err
	}
	if m == r.def && (req.IP.IsValid() || len(req.Aliases) > 0) {
		return nil, errdefs.Invalid("user specified IP address is supported on user defined networks only")
	}
	if m != r.def {
		req.Background = false // its DNS server is served in the namespace next
	}
	ep, err := m.Attach(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := r.serveDNS(req.ID, ep); err != nil {
		_ = m.Detach(ctx, ep)
		return nil, err
	}
	return ep, nil
}

// Detach takes a container off the bridge its endpoint is on; eth0's
// endpoint takes the namespace and the DNS server with it.
func (r *Registry) Detach(ctx context.Context, ep *Endpoint) error {
	if ep == nil {
		return nil
	}
	_ = ep.Wait()                 // a background attach's goroutine is done with it
	id := filepath.Base(ep.Netns) // the container's ID
	if ep.ownsNetns() {
		r.stopDNS(id)
	}
	r.mu.Lock()
	var m *Manager
	for _, x := range r.managers() {
		if x.cfg.Bridge == ep.Bridge {
			m = x
		}
	}
	r.mu.Unlock()
	if m == nil {
		// Its network is gone: only the namespace and veth remain.
		errs := []error{unplugVeth(ep.HostVeth)}
		if ep.ownsNetns() {
			errs = append(errs, removeNetns(ep.Netns))
		}
		return errors.Join(errs...)
	}
	return m.Detach(ctx, ep)
}

// serveDNS starts the container's DNS server when the endpoint's network
// has names to serve and the container has none yet.
func (r *Registry) serveDNS(id string, ep *Endpoint) error {
	if !ep.DNS {
		return nil
	}
	r.dns.mu.Lock()
	defer r.dns.mu.Unlock()
	if r.dns.srv == nil {
		r.dns.srv = map[string]*dnsServer{}
	}
	if _, ok := r.dns.srv[id]; ok {
		return nil
	}
	srv, err := startDNS(ep.Netns, func(w dns.ResponseWriter, q *dns.Msg) { r.answer(id, w, q) })
	if err != nil {
		return err
	}
	r.dns.srv[id] = srv
	return nil
}

func (r *Registry) stopDNS(id string) {
	r.dns.mu.Lock()
	defer r.dns.mu.Unlock()
	if srv, ok := r.dns.srv[id]; ok {
		srv.close()
		delete(r.dns.srv, id)
	}
}

// answer serves one question of container id: the names of every network
// it is on that has DNS, then the host's resolvers unless all of those
// networks are --internal.
func (r *Registry) answer(id string, w dns.ResponseWriter, q *dns.Msg) {
	r.mu.Lock()
	var nets []*Manager
	for _, m := range r.managers() {
		if m.cfg.DNS && m.has(id) {
			nets = append(nets, m)
		}
	}
	r.mu.Unlock()
	lookup := func(name string) (netip.Addr, bool) {
		for _, m := range nets {
			if ip, ok := m.lookup(name); ok {
				return ip, true
			}
		}
		return netip.Addr{}, false
	}
	// Left with no network with names (all disconnected), the server
	// still forwards: resolv.conf keeps pointing at it, as Docker's does.
	internal := len(nets) > 0
	for _, m := range nets {
		internal = internal && m.cfg.Internal
	}
	var ups []string
	if !internal {
		ups = HostResolvers()
	}
	answerFrom(w, q, lookup, ups)
}

// has tells whether a container has an endpoint on this bridge.
func (m *Manager) has(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.active[id]
	return ok
}
