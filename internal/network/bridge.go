package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// bridgeAddr is the IPv4 address (gateway/prefix) a bridge already has,
// if it exists.
func bridgeAddr(name string) (netlink.Link, netip.Prefix, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, netip.Prefix{}, nil
		}
		return nil, netip.Prefix{}, err
	}
	if _, ok := link.(*netlink.Bridge); !ok {
		return nil, netip.Prefix{}, fmt.Errorf("%s exists and is not a bridge (%s)", name, link.Type())
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return nil, netip.Prefix{}, err
	}
	for _, a := range addrs {
		if p, ok := prefixOf(a.IPNet); ok {
			return link, p, nil
		}
	}
	return link, netip.Prefix{}, nil
}

// hostPrefixes are the IPv4 routes and addresses of this host, but those of
// the link skip: a subnet for a new bridge must clash with none.
func hostPrefixes(skip netlink.Link) ([]netip.Prefix, error) {
	skipIdx := -1
	if skip != nil {
		skipIdx = skip.Attrs().Index
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.LinkIndex == skipIdx || r.Dst == nil {
			continue
		}
		if p, ok := prefixOf(r.Dst); ok && p.Bits() > 0 && !p.Addr().IsLoopback() {
			out = append(out, p.Masked())
		}
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if a.LinkIndex == skipIdx {
			continue
		}
		if p, ok := prefixOf(a.IPNet); ok && !p.Addr().IsLoopback() {
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

// createBridge makes the bridge with gw (gateway address/subnet length)
// and brings it up, or fixes the address of one that exists.
func createBridge(name string, link netlink.Link, gw netip.Prefix) (netlink.Link, error) {
	if link == nil {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, TxQLen: -1}}
		if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("creating the bridge %s: %w", name, err)
		}
		l, err := netlink.LinkByName(name)
		if err != nil {
			return nil, err
		}
		link = l
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	have := false
	for _, a := range addrs {
		p, _ := prefixOf(a.IPNet)
		if p == gw {
			have = true
			continue
		}
		_ = netlink.AddrDel(link, &a)
	}
	if !have {
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: ipNet(gw)}); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("setting the address of the bridge %s: %w", name, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return nil, err
	}
	// The host reaching published ports on 127.0.0.1 sends packets with
	// a loopback source out of the bridge: allowed on this interface only
	// (masqueraded on the way, see the firewall).
	if err := sysctl(filepath.Join("net/ipv4/conf", name, "route_localnet"), "1"); err != nil {
		return nil, err
	}
	// Forwarding, as Docker turns it on.
	if cur, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err == nil && string(cur) == "0\n" {
		if err := sysctl("net/ipv4/ip_forward", "1"); err != nil {
			return nil, err
		}
	}
	return link, nil
}

// RemoveBridge deletes a bridge (tests clean up theirs with it).
func RemoveBridge(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil
	}
	return netlink.LinkDel(link)
}

func sysctl(key, value string) error {
	return os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0o644)
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok || !a.Unmap().Is4() {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

func ipNet(p netip.Prefix) *net.IPNet {
	a := p.Addr().As4()
	return &net.IPNet{IP: net.IP(a[:]), Mask: net.CIDRMask(p.Bits(), 32)}
}
