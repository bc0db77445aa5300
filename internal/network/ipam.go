package network

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"

	"github.com/gantry-dev/gantry/internal/atomicfile"
	"github.com/gantry-dev/gantry/internal/errdefs"
)

// leases are the addresses of a subnet given to containers, kept in a
// file written atomically on every change so that a crash of the daemon
// loses none and the next start can release those of containers that are
// gone. It is not synced to disk: a lease is held by a running container,
// and after a crash of the machine none runs (the next start drops them).
type leases struct {
	path    string
	Subnet  netip.Prefix          `json:"subnet"`
	Gateway netip.Addr            `json:"gateway"`
	ByOwner map[string]netip.Addr `json:"leases"`
}

func loadLeases(path string, subnet netip.Prefix, gateway netip.Addr) (*leases, error) {
	l := &leases{path: path, Subnet: subnet, Gateway: gateway, ByOwner: map[string]netip.Addr{}}
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	if err == nil {
		var old leases
		if json.Unmarshal(data, &old) == nil && old.Subnet == subnet {
			for o, a := range old.ByOwner {
				if subnet.Contains(a) && a != gateway {
					l.ByOwner[o] = a
				}
			}
		}
	}
	return l, l.save()
}

func (l *leases) save() error {
	data, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return atomicfile.WriteUnsynced(l.path, data, 0o600)
}

// allocate gives owner an address: want if set and free, else the lowest
// free one.
func (l *leases) allocate(owner string, want netip.Addr) (netip.Addr, error) {
	if a, ok := l.ByOwner[owner]; ok && (!want.IsValid() || want == a) {
		return a, nil
	}
	used := map[netip.Addr]bool{l.Gateway: true}
	for _, a := range l.ByOwner {
		used[a] = true
	}
	if want.IsValid() {
		if !l.Subnet.Contains(want) {
			return netip.Addr{}, errdefs.Invalid("no configured subnet contains IP address %s", want)
		}
		if used[want] || want == l.Subnet.Masked().Addr() || want == broadcast(l.Subnet) {
			return netip.Addr{}, errdefs.Conflict("Address already in use")
		}
		return want, l.set(owner, want)
	}
	last := broadcast(l.Subnet)
	for a := l.Subnet.Masked().Addr().Next(); a.IsValid() && a.Less(last); a = a.Next() {
		if !used[a] {
			return a, l.set(owner, a)
		}
	}
	return netip.Addr{}, fmt.Errorf("no available IPv4 addresses on this network's address pools: bridge (%s)", l.Subnet)
}

func (l *leases) set(owner string, a netip.Addr) error {
	l.ByOwner[owner] = a
	if err := l.save(); err != nil {
		delete(l.ByOwner, owner)
		return err
	}
	return nil
}

func (l *leases) release(owner string) error {
	if _, ok := l.ByOwner[owner]; !ok {
		return nil
	}
	delete(l.ByOwner, owner)
	return l.save()
}

func broadcast(p netip.Prefix) netip.Addr {
	return from32(u32(p.Masked().Addr()) | (1<<(32-p.Bits()) - 1))
}
