package network

import (
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/moby/moby/api/types/network"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// plugVeth makes a veth pair: hostName on the bridge, its peer ifname
// (eth0, or eth1… for a network connected later) made straight inside the
// namespace at nsPath, with the address and lo up; the first interface
// also gets the default route through the gateway.
func plugVeth(bridge netlink.Link, hostName, nsPath, ifname string, mac net.HardwareAddr, addr netip.Prefix, gw netip.Addr) error {
	if ifname == "" {
		ifname = "eth0"
	}
	ns, err := os.Open(nsPath)
	if err != nil {
		return err
	}
	defer ns.Close()
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: hostName, MasterIndex: bridge.Attrs().Index, MTU: bridge.Attrs().MTU, TxQLen: -1},
		PeerName:         ifname,
		PeerHardwareAddr: mac,
		PeerNamespace:    netlink.NsFd(int(ns.Fd())),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating the veth pair %s: %w", hostName, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = netlink.LinkDel(veth)
		}
	}()
	if err := netlink.LinkSetUp(veth); err != nil {
		return err
	}
	h, err := netlink.NewHandleAt(netns.NsHandle(int(ns.Fd())))
	if err != nil {
		return fmt.Errorf("entering the container's network namespace: %w", err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return err
	}
	if err := h.LinkSetUp(lo); err != nil {
		return err
	}
	eth0, err := h.LinkByName(ifname)
	if err != nil {
		return err
	}
	if err := h.AddrAdd(eth0, &netlink.Addr{IPNet: ipNet(addr)}); err != nil {
		return fmt.Errorf("setting the container's address: %w", err)
	}
	if err := h.LinkSetUp(eth0); err != nil {
		return err
	}
	if ifname != "eth0" {
		ok = true
		return nil
	}
	gwIP := gw.As4()
	if err := h.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: net.IP(gwIP[:])}); err != nil {
		return fmt.Errorf("setting the container's default route: %w", err)
	}
	ok = true
	return nil
}

// unplugVeth deletes the host side of a pair (its peer goes with it).
func unplugVeth(hostName string) error {
	link, err := netlink.LinkByName(hostName)
	if err != nil {
		return nil // gone with its namespace
	}
	return netlink.LinkDel(link)
}

// macFor is Docker's MAC for an address: 02:42 and the IPv4 address.
func macFor(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

func parseMAC(s string) (network.HardwareAddr, error) {
	m, err := net.ParseMAC(s)
	return network.HardwareAddr(m), err
}
