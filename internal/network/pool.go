package network

import (
	"fmt"
	"net/netip"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Pool is one of daemon.json's default-address-pools: subnets of Size
// bits carved from Base.
type Pool struct {
	Base netip.Prefix `json:"base"`
	Size int          `json:"size"`
}

// DefaultPools are Docker's: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s.
func DefaultPools() []Pool {
	var pools []Pool
	for i := 17; i <= 31; i++ {
		pools = append(pools, Pool{Base: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(i), 0, 0}), 16), Size: 16})
	}
	return append(pools, Pool{Base: netip.MustParsePrefix("192.168.0.0/16"), Size: 20})
}

// CheckPool refuses a pool that cannot give a subnet.
func CheckPool(p Pool) error {
	if !p.Base.IsValid() || !p.Base.Addr().Is4() {
		return errdefs.Invalid("invalid default address pool base %q: IPv4 prefixes only", p.Base)
	}
	if p.Size < p.Base.Bits() || p.Size > 30 {
		return errdefs.Invalid("invalid pools size: %d", p.Size)
	}
	return nil
}

// firstFree is the first subnet of the pools that overlaps none of used.
func firstFree(pools []Pool, used []netip.Prefix) (netip.Prefix, error) {
	for _, p := range pools {
		if err := CheckPool(p); err != nil {
			return netip.Prefix{}, err
		}
		base := p.Base.Masked()
		step := uint64(1) << (32 - p.Size)
		n := uint64(1) << (p.Size - base.Bits())
		start := u32(base.Addr())
		for i := uint64(0); i < n; i++ {
			cand := netip.PrefixFrom(from32(uint32(uint64(start)+i*step)), p.Size)
			if !overlapsAny(cand, used) {
				return cand, nil
			}
		}
	}
	return netip.Prefix{}, fmt.Errorf("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
}

func overlapsAny(p netip.Prefix, list []netip.Prefix) bool {
	for _, q := range list {
		if p.Overlaps(q) {
			return true
		}
	}
	return false
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func from32(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
