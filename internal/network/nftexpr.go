package network

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Small builders of nftables expressions, each the bytecode that nft(8)
// itself generates for the same match, so `nft list ruleset` shows the
// rules in their usual form.

// ifname matches the input or output interface by exact name, as
// iptables-nft encodes `-i NAME` (the name and its NUL), so iptables can
// still list a chain that holds one of these rules.
func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: append([]byte(name), 0)},
	}
}

// ipAddr matches the source (offset 12) or destination (16) address
// against a prefix.
func ipAddr(offset uint32, p netip.Prefix) []expr.Any {
	e := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4}}
	if p.Bits() < 32 {
		mask := make([]byte, 4)
		binary.BigEndian.PutUint32(mask, ^uint32(0)<<(32-p.Bits()))
		e = append(e, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)})
	}
	a := p.Masked().Addr().As4()
	return append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]})
}

func saddr(p netip.Prefix) []expr.Any { return ipAddr(12, p) }
func daddr(p netip.Prefix) []expr.Any { return ipAddr(16, p) }

// l4Port matches the transport protocol and destination port.
func l4Port(proto byte, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
	}
}

// localAddr is `fib saddr|daddr type local`: the address is one of this
// host's.
func localAddr(source bool) []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagSADDR: source, FlagDADDR: !source, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL)},
	}
}

// ctBits is `ct state|status & bits != 0`.
func ctBits(key expr.CtKey, bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: key},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

// ipsDstNat is the conntrack status bit of a connection whose destination
// was rewritten (IPS_DST_NAT).
const ipsDstNat = 1 << 5

func established() []expr.Any {
	return ctBits(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED)
}

func dnatted() []expr.Any { return ctBits(expr.CtKeySTATUS, ipsDstNat) }

// notDnatted is the opposite: `ct status & dnat == 0`.
func notDnatted() []expr.Any {
	e := ctBits(expr.CtKeySTATUS, ipsDstNat)
	e[2].(*expr.Cmp).Op = expr.CmpOpEq
	return e
}

// dnatTo rewrites the destination to addr:port.
func dnatTo(addr netip.Addr, port uint16) []expr.Any {
	a := addr.As4()
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: a[:]},
		&expr.Immediate{Register: 2, Data: binary.BigEndian.AppendUint16(nil, port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
}

func verdict(k expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: k} }

func jump(chain string) expr.Any { return &expr.Verdict{Kind: expr.VerdictJump, Chain: chain} }

func join(es ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, e := range es {
		out = append(out, e...)
	}
	return out
}
