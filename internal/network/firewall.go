package network

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// firewall is one bridge's nftables rules: a table of its own, named after
// the bridge so daemons on different bridges never touch each other's,
// rebuilt whole in one transaction at startup (no duplicates after a
// restart or a crash) and with its port chain rewritten in one
// transaction on every change.
//
// Every base chain on a hook must accept a packet for it to pass. A host
// running dockerd has iptables-nft's `ip filter FORWARD` with policy DROP,
// so forwarded traffic of our bridge needs an accept there too, as
// Docker's DOCKER-USER chain lets users add theirs: two rules, appended
// (after the user's DOCKER-USER and netavark's rules), tagged with a
// comment naming the bridge so they are found again. They only accept
// what our own forward chain, on the same hook, has not dropped: the
// policy (no unsolicited inbound traffic except published ports) lives
// in our table.
type firewall struct {
	others   []string // the host's other gantry bridges, isolated from this one
	internal bool     // no traffic leaves the bridge
	bridge   string
	subnet   netip.Prefix
	table    *nftables.Table
}

const (
	chainPrerouting  = "prerouting"
	chainOutput      = "output"
	chainPostrouting = "postrouting"
	chainForward     = "forward"
	chainPorts       = "ports"
	chainIsolation   = "isolation"
	chainRaw         = "raw-prerouting"
)

// TableName is the nftables table of a bridge's rules.
func TableName(bridge string) string { return "gantry-" + bridge }

func newFirewall(bridge string, subnet netip.Prefix) *firewall {
	return &firewall{bridge: bridge, subnet: subnet, table: &nftables.Table{Name: TableName(bridge), Family: nftables.TableFamilyIPv4}}
}

func (f *firewall) comment() []byte {
	return userdata.AppendString(nil, userdata.TypeComment, "gantry bridge "+f.bridge)
}

func (f *firewall) chain(name string) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: f.table}
}

// rebuild replaces the whole table, and the accept rules in iptables'
// FORWARD, by the rules for these published ports, in one transaction.
func (f *firewall) rebuild(ports []activePort) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	// Adding before deleting makes the delete valid whether or not the
	// table existed; the kernel applies the batch atomically.
	c.AddTable(f.table)
	c.DelTable(f.table)
	c.AddTable(f.table)
	accept := nftables.ChainPolicyAccept
	nat := func(name string, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return c.AddChain(&nftables.Chain{Name: name, Table: f.table, Type: nftables.ChainTypeNAT, Hooknum: hook, Priority: prio})
	}
	pre := nat(chainPrerouting, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest)
	out := nat(chainOutput, nftables.ChainHookOutput, nftables.ChainPriorityNATDest)
	post := nat(chainPostrouting, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
	fwd := c.AddChain(&nftables.Chain{Name: chainForward, Table: f.table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	raw := c.AddChain(&nftables.Chain{Name: chainRaw, Table: f.table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRaw, Policy: &accept})
	c.AddChain(f.chain(chainPorts))
	c.AddChain(f.chain(chainIsolation))
	f.addIsolation(c)

	add := func(ch *nftables.Chain, es ...[]expr.Any) {
		c.AddRule(&nftables.Rule{Table: f.table, Chain: ch, Exprs: join(es...)})
	}
	// route_localnet on the bridge (below) would let a container with
	// CAP_NET_RAW craft packets to the host's 127.0.0.1 services
	// (CVE-2020-8558): whatever comes in from the bridge addressed to a
	// loopback address is dropped before NAT, where the replies to the
	// host's own connections still carry the bridge's address.
	add(raw, ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, f.bridge), daddr(netip.MustParsePrefix("127.0.0.0/8")), []expr.Any{verdict(expr.VerdictDrop)})
	// Published ports: traffic to one of this host's addresses.
	add(pre, localAddr(false), []expr.Any{jump(chainPorts)})
	add(out, localAddr(false), []expr.Any{jump(chainPorts)})
	if f.internal {
		// --internal: nothing in or out but between its containers.
		add(fwd, ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, f.bridge), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, f.bridge), []expr.Any{verdict(expr.VerdictDrop)})
		add(fwd, ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, f.bridge), ifname(expr.MetaKeyIIFNAME, expr.CmpOpNeq, f.bridge), []expr.Any{verdict(expr.VerdictDrop)})
	}
	// Other networks of this host are out of reach (Docker's isolation).
	add(fwd, []expr.Any{jump(chainIsolation)})
	// Outbound NAT of the containers.
	add(post, saddr(f.subnet), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, f.bridge), []expr.Any{&expr.Masq{}})
	// The host itself (127.0.0.1 included, with route_localnet on the
	// bridge) reaching a published port: replies must come back through
	// the host, as Docker's `--src-type LOCAL -j MASQUERADE`.
	add(post, ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, f.bridge), localAddr(true), []expr.Any{&expr.Masq{}})
	// Hairpin: a container reaching a published port through a host
	// address lands on the same bridge; without this the reply would
	// skip the NAT.
	add(post, ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, f.bridge), saddr(f.subnet), dnatted(), []expr.Any{&expr.Masq{}})
	// Forwarding policy: replies and published ports in, anything out.
	add(fwd, ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, f.bridge), established(), []expr.Any{verdict(expr.VerdictAccept)})
	add(fwd, ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, f.bridge), dnatted(), []expr.Any{verdict(expr.VerdictAccept)})
	add(fwd, ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, f.bridge), []expr.Any{verdict(expr.VerdictAccept)})
	add(fwd, ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, f.bridge), []expr.Any{verdict(expr.VerdictDrop)})
	f.addPortRules(c, ports)
	if err := f.forwardAccepts(c, true); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("setting up the nftables rules of %s: %w", f.bridge, err)
	}
	return nil
}

func (f *firewall) addIsolation(c *nftables.Conn) {
	for _, o := range f.others {
		if o == f.bridge {
			continue
		}
		for _, dir := range [][2]string{{f.bridge, o}, {o, f.bridge}} {
			c.AddRule(&nftables.Rule{Table: f.table, Chain: f.chain(chainIsolation),
				// A published port stays reachable through the host's
				// addresses from every network, as with Docker.
				Exprs: join(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, dir[0]), ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, dir[1]), notDnatted(), []expr.Any{verdict(expr.VerdictDrop)})})
		}
	}
}

// setIsolation rewrites the isolation chain for these other bridges.
func (f *firewall) setIsolation(others []string) error {
	f.others = others
	c, err := nftables.New()
	if err != nil {
		return err
	}
	c.FlushChain(f.chain(chainIsolation))
	f.addIsolation(c)
	return c.Flush()
}

// setPorts rewrites the port chain in one transaction.
func (f *firewall) setPorts(ports []activePort) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	c.FlushChain(f.chain(chainPorts))
	f.addPortRules(c, ports)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("updating the published ports of %s: %w", f.bridge, err)
	}
	return nil
}

func (f *firewall) addPortRules(c *nftables.Conn, ports []activePort) {
	ch := f.chain(chainPorts)
	for _, p := range ports {
		var es [][]expr.Any
		if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
			es = append(es, daddr(netip.PrefixFrom(p.HostIP, 32)))
		}
		es = append(es, l4Port(protoNumber(p.Proto), p.HostPort), dnatTo(p.ContainerIP, p.ContainerPort))
		c.AddRule(&nftables.Rule{Table: f.table, Chain: ch, Exprs: join(es...), UserData: userdata.AppendString(nil, userdata.TypeComment, p.Owner)})
	}
}

// filterTable is iptables-nft's `ip filter`.
func filterTable() *nftables.Table {
	return &nftables.Table{Name: "filter", Family: nftables.TableFamilyIPv4}
}

// forwardAccepts removes our accept rules from `ip filter FORWARD` and,
// with add, appends them again: the same batch, so a restart never
// doubles them. A host without that chain needs none.
func (f *firewall) forwardAccepts(c *nftables.Conn, add bool) error {
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return err
	}
	var fwd *nftables.Chain
	for _, ch := range chains {
		if ch.Table.Name == "filter" && ch.Name == "FORWARD" {
			fwd = ch
		}
	}
	if fwd == nil {
		return nil
	}
	rules, err := c.GetRules(filterTable(), fwd)
	if err != nil {
		return err
	}
	want := f.comment()
	for _, r := range rules {
		if string(r.UserData) == string(want) {
			if err := c.DelRule(r); err != nil {
				return err
			}
		}
	}
	if !add {
		return nil
	}
	for _, key := range []expr.MetaKey{expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME} {
		c.AddRule(&nftables.Rule{Table: fwd.Table, Chain: fwd, UserData: want,
			Exprs: join(ifname(key, expr.CmpOpEq, f.bridge), []expr.Any{&expr.Counter{}, verdict(expr.VerdictAccept)})})
	}
	return nil
}

// RemoveFirewall deletes a bridge's table and its accept rules in
// iptables' FORWARD chain (tests use it to leave nothing behind).
func RemoveFirewall(bridge string) error {
	f := newFirewall(bridge, netip.Prefix{})
	c, err := nftables.New()
	if err != nil {
		return err
	}
	c.AddTable(f.table)
	c.DelTable(f.table)
	if err := f.forwardAccepts(c, false); err != nil {
		return err
	}
	return c.Flush()
}

func protoNumber(proto string) byte {
	switch strings.ToLower(proto) {
	case "udp":
		return unix.IPPROTO_UDP
	case "sctp":
		return unix.IPPROTO_SCTP
	}
	return unix.IPPROTO_TCP
}
