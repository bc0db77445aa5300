package network

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// PortMapping is one published port as it is set up.
type PortMapping struct {
	Proto         string     `json:"proto"`
	HostIP        netip.Addr `json:"hostIP"`
	HostPort      uint16     `json:"hostPort"`
	ContainerPort uint16     `json:"containerPort"`
}

// PortRequest is one port the user asked to publish: a host port range
// (0-0 lets the kernel pick a free one).
type PortRequest struct {
	Proto         string
	HostIP        netip.Addr
	HostLo        uint16
	HostHi        uint16
	ContainerPort uint16
}

// activePort is a mapping in the firewall, with its owner.
type activePort struct {
	PortMapping
	Owner       string
	ContainerIP netip.Addr
}

// ResolvePorts turns HostConfig's PortBindings (and -P over the exposed
// ports) into requests, refusing what Docker refuses.
func ResolvePorts(bindings network.PortMap, publishAll bool, exposed network.PortSet) ([]PortRequest, error) {
	var out []PortRequest
	seen := map[network.Port]bool{}
	keys := make([]network.Port, 0, len(bindings))
	for p := range bindings {
		keys = append(keys, p)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, p := range keys {
		if err := checkProto(p); err != nil {
			return nil, err
		}
		seen[p] = true
		list := bindings[p]
		if len(list) == 0 {
			list = []network.PortBinding{{}}
		}
		for _, b := range list {
			lo, hi, err := hostPortRange(b.HostPort)
			if err != nil {
				return nil, err
			}
			if b.HostIP.IsValid() && !b.HostIP.Unmap().Is4() {
				return nil, errdefs.Invalid("publishing on the IPv6 address %s is not supported: gantry's bridge is IPv4 only", b.HostIP)
			}
			out = append(out, PortRequest{Proto: string(p.Proto()), HostIP: b.HostIP.Unmap(), HostLo: lo, HostHi: hi, ContainerPort: p.Num()})
		}
	}
	if publishAll {
		var more []network.Port
		for p := range exposed {
			if !seen[p] {
				more = append(more, p)
			}
		}
		sort.Slice(more, func(i, j int) bool { return more[i].String() < more[j].String() })
		for _, p := range more {
			if err := checkProto(p); err != nil {
				return nil, err
			}
			out = append(out, PortRequest{Proto: string(p.Proto()), ContainerPort: p.Num()})
		}
	}
	return out, nil
}

func checkProto(p network.Port) error {
	switch p.Proto() {
	case network.TCP, network.UDP:
		if p.Num() == 0 {
			return errdefs.Invalid("invalid port specification: %q", p.String())
		}
		return nil
	}
	return errdefs.Invalid("publishing %s ports is not supported: gantry publishes tcp and udp", p.Proto())
}

// hostPortRange parses "", "8080" or "8000-8010".
func hostPortRange(s string) (uint16, uint16, error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, isRange := strings.Cut(s, "-")
	lo, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, errdefs.Invalid("invalid port specification: %q", s)
	}
	hi := lo
	if isRange {
		if hi, err = strconv.ParseUint(b, 10, 16); err != nil || hi < lo {
			return 0, 0, errdefs.Invalid("invalid port specification: %q", s)
		}
	}
	return uint16(lo), uint16(hi), nil
}

type portKey struct {
	proto string
	ip    netip.Addr // unspecified: every address
	port  uint16
}

// portHolds are the host ports the daemon's containers hold: each is
// bound by a socket the daemon keeps open, so no other process can take
// it, and the kernel's DNAT sends the traffic to the container before
// that socket would see any.
type portHolds struct {
	owner   map[portKey]string
	closers map[string][]io.Closer
}

func newPortHolds() *portHolds {
	return &portHolds{owner: map[portKey]string{}, closers: map[string][]io.Closer{}}
}

// takenBy is the owner of a port that clashes with k.
func (h *portHolds) takenBy(k portKey) (string, bool) {
	for o, id := range h.owner {
		if o.proto == k.proto && o.port == k.port && (o.ip == k.ip || o.ip.IsUnspecified() || k.ip.IsUnspecified()) {
			return id, true
		}
	}
	return "", false
}

// errAllocated is Docker's message for a port another container holds.
type errAllocated struct{ hostIP, ports string }

func (e errAllocated) Error() string {
	return fmt.Sprintf("Bind for %s:%s failed: port is already allocated", e.hostIP, e.ports)
}

// reserve binds the host ports of reqs for owner; on failure nothing is
// held. containerIP only appears in messages.
func (h *portHolds) reserve(owner string, reqs []PortRequest, containerIP netip.Addr) ([]PortMapping, error) {
	var out []PortMapping
	ok := false
	defer func() {
		if !ok {
			h.release(owner)
		}
	}()
	for _, r := range reqs {
		ip := r.HostIP
		if !ip.IsValid() {
			ip = netip.IPv4Unspecified()
		}
		m, err := h.reserveOne(owner, r, ip, containerIP)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	ok = true
	return out, nil
}

func (h *portHolds) reserveOne(owner string, r PortRequest, ip, containerIP netip.Addr) (PortMapping, error) {
	m := PortMapping{Proto: r.Proto, HostIP: ip, ContainerPort: r.ContainerPort}
	if r.HostLo == 0 {
		c, port, err := bindPort(r.Proto, ip, 0)
		if err != nil {
			return m, fmt.Errorf("failed to bind host port for %s:0:%s:%d/%s: %w", ip, containerIP, r.ContainerPort, r.Proto, err)
		}
		m.HostPort = port
		h.hold(owner, portKey{r.Proto, ip, port}, c)
		return m, nil
	}
	var lastErr error
	for p := uint32(r.HostLo); p <= uint32(r.HostHi); p++ {
		port := uint16(p)
		k := portKey{r.Proto, ip, port}
		if _, taken := h.takenBy(k); taken {
			lastErr = errAllocated{ip.String(), strconv.Itoa(int(port))}
			continue
		}
		c, _, err := bindPort(r.Proto, ip, port)
		if err != nil {
			lastErr = fmt.Errorf("failed to bind host port for %s:%d:%s:%d/%s: %w", ip, port, containerIP, r.ContainerPort, r.Proto, err)
			continue
		}
		m.HostPort = port
		h.hold(owner, k, c)
		return m, nil
	}
	if r.HostHi != r.HostLo {
		var alloc errAllocated
		if errors.As(lastErr, &alloc) {
			return m, errAllocated{ip.String(), fmt.Sprintf("%d-%d", r.HostLo, r.HostHi)}
		}
	}
	return m, lastErr
}

func (h *portHolds) hold(owner string, k portKey, c io.Closer) {
	h.owner[k] = owner
	h.closers[owner] = append(h.closers[owner], c)
}

// release closes owner's sockets and frees its ports.
func (h *portHolds) release(owner string) {
	for _, c := range h.closers[owner] {
		c.Close()
	}
	delete(h.closers, owner)
	for k, o := range h.owner {
		if o == owner {
			delete(h.owner, k)
		}
	}
}

// bindPort binds (and for TCP listens on) ip:port; port 0 lets the kernel
// pick from its ephemeral range, as Docker's allocator uses. A TCP port
// another socket listens on, on any overlapping address, is taken; with
// SO_REUSEADDR, as Docker's proxy has it, the connections of an earlier
// user of the port (TIME_WAIT for a minute after it served) do not hold it.
// UDP goes without: there SO_REUSEADDR would let two binds share a port.
func bindPort(proto string, ip netip.Addr, port uint16) (io.Closer, uint16, error) {
	typ := unix.SOCK_STREAM
	if proto == "udp" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, 0, err
	}
	f := os.NewFile(uintptr(fd), "port")
	if typ == unix.SOCK_STREAM {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			f.Close()
			return nil, 0, err
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(port), Addr: ip.As4()}); err != nil {
		f.Close()
		return nil, 0, err
	}
	if typ == unix.SOCK_STREAM {
		if err := unix.Listen(fd, 1); err != nil {
			f.Close()
			return nil, 0, err
		}
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, uint16(sa.(*unix.SockaddrInet4).Port), nil
}
