package network

import (
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
	"golang.org/x/sys/unix"
)

func TestFirstFreeSkipsUsedSubnets(t *testing.T) {
	used := []netip.Prefix{
		netip.MustParsePrefix("172.17.0.0/16"), // docker0
		netip.MustParsePrefix("172.18.5.0/24"), // a route inside 172.18/16
		netip.MustParsePrefix("10.88.0.0/16"),  // podman
	}
	got, err := firstFree(DefaultPools(), used)
	if err != nil || got != netip.MustParsePrefix("172.19.0.0/16") {
		t.Errorf("firstFree = %v, %v; want 172.19.0.0/16", got, err)
	}
	all := []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/17")}
	got, err = firstFree(DefaultPools(), all)
	if err != nil || got != netip.MustParsePrefix("192.168.128.0/20") {
		t.Errorf("with 172.16/12 taken: %v, %v; want 192.168.128.0/20", got, err)
	}
	if _, err := firstFree([]Pool{{Base: netip.MustParsePrefix("10.0.0.0/24"), Size: 24}}, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}); err == nil {
		t.Error("a pool with no free subnet gave one")
	}
	if err := CheckPool(Pool{Base: netip.MustParsePrefix("10.0.0.0/16"), Size: 8}); err == nil {
		t.Error("a pool size shorter than its base was accepted")
	}
}

func TestLeasesPersistAndRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.json")
	subnet := netip.MustParsePrefix("10.9.0.0/29") // .1 gateway, .2-.6 free, .7 broadcast
	gw := netip.MustParseAddr("10.9.0.1")
	l, err := loadLeases(path, subnet, gw)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		a, err := l.allocate(id, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
	}
	if strings.Join(got, " ") != "10.9.0.2 10.9.0.3 10.9.0.4 10.9.0.5 10.9.0.6" {
		t.Errorf("allocations: %v", got)
	}
	if _, err := l.allocate("f", netip.Addr{}); err == nil {
		t.Error("a full subnet gave an address")
	}
	if err := l.release("c"); err != nil {
		t.Fatal(err)
	}
	// What is on disk is what a restart sees.
	l2, err := loadLeases(path, subnet, gw)
	if err != nil {
		t.Fatal(err)
	}
	if len(l2.ByOwner) != 4 || l2.ByOwner["a"] != netip.MustParseAddr("10.9.0.2") {
		t.Errorf("reloaded leases: %v", l2.ByOwner)
	}
	if a, _ := l2.allocate("f", netip.Addr{}); a != netip.MustParseAddr("10.9.0.4") {
		t.Errorf("the released address was not given again: %v", a)
	}
	// Another subnet (a new --bip) starts afresh.
	l3, _ := loadLeases(path, netip.MustParsePrefix("10.10.0.0/24"), netip.MustParseAddr("10.10.0.1"))
	if len(l3.ByOwner) != 0 {
		t.Errorf("leases of the old subnet kept: %v", l3.ByOwner)
	}
}

func TestResolvePorts(t *testing.T) {
	p80 := network.MustParsePort("80/tcp")
	p53 := network.MustParsePort("53/udp")
	p90 := network.MustParsePort("90/tcp")
	reqs, err := ResolvePorts(network.PortMap{
		p80: {{HostPort: "8000-8010"}},
		p53: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "5353"}},
	}, true, network.PortSet{p80: {}, p90: {}})
	if err != nil {
		t.Fatal(err)
	}
	want := []PortRequest{
		{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostLo: 5353, HostHi: 5353, ContainerPort: 53},
		{Proto: "tcp", HostLo: 8000, HostHi: 8010, ContainerPort: 80},
		{Proto: "tcp", ContainerPort: 90}, // -P: exposed, not bound
	}
	if len(reqs) != len(want) {
		t.Fatalf("requests %+v", reqs)
	}
	for i := range want {
		if reqs[i] != want[i] {
			t.Errorf("request %d = %+v, want %+v", i, reqs[i], want[i])
		}
	}
	for _, bad := range []string{"99999", "80-70", "x", "1-99999"} {
		if _, err := ResolvePorts(network.PortMap{p80: {{HostPort: bad}}}, false, nil); err == nil {
			t.Errorf("host port %q accepted", bad)
		}
	}
	if _, err := ResolvePorts(network.PortMap{p80: {{HostIP: netip.MustParseAddr("::1"), HostPort: "80"}}}, false, nil); err == nil {
		t.Error("an IPv6 host address was accepted")
	}
}

// A port another socket holds, or another owner holds, is refused; a
// failed reservation holds nothing.
func TestPortHolds(t *testing.T) {
	if unix.Geteuid() != 0 {
		t.Log("not root: binding unprivileged ports only")
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := uint16(l.Addr().(*net.TCPAddr).Port)
	h := newPortHolds()
	ip := netip.MustParseAddr("10.0.0.2")
	ms, err := h.reserve("a", []PortRequest{{Proto: "tcp", ContainerPort: 80}}, ip)
	if err != nil || len(ms) != 1 || ms[0].HostPort == 0 {
		t.Fatalf("random port: %+v, %v", ms, err)
	}
	free := ms[0].HostPort
	_, err = h.reserve("b", []PortRequest{{Proto: "tcp", HostLo: free, HostHi: free, ContainerPort: 80}}, ip)
	if err == nil || err.Error() != "Bind for 0.0.0.0:"+itoa(free)+" failed: port is already allocated" {
		t.Errorf("a port another container holds: %v", err)
	}
	_, err = h.reserve("b", []PortRequest{
		{Proto: "udp", ContainerPort: 53},
		{Proto: "tcp", HostLo: busy, HostHi: busy, ContainerPort: 80},
	}, ip)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("a port another process holds: %v", err)
	}
	if len(h.closers["b"]) != 0 {
		t.Error("a failed reservation kept sockets")
	}
	// A range skips what is taken.
	ms, err = h.reserve("c", []PortRequest{{Proto: "tcp", HostLo: free, HostHi: free + 1, ContainerPort: 80}}, ip)
	if err != nil && !strings.Contains(err.Error(), "already") {
		t.Fatal(err)
	}
	if err == nil && ms[0].HostPort != free+1 {
		t.Errorf("range gave %d, want %d", ms[0].HostPort, free+1)
	}
	h.release("a")
	if _, err := h.reserve("d", []PortRequest{{Proto: "tcp", HostLo: free, HostHi: free, ContainerPort: 80}}, ip); err != nil {
		t.Errorf("a released port is still held: %v", err)
	}
}

func itoa(p uint16) string {
	return netip.AddrPortFrom(netip.IPv4Unspecified(), p).String()[len("0.0.0.0:"):]
}
