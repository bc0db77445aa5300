package daemon

import (
	"context"
	"log/slog"
	"net/netip"

	eventtypes "github.com/moby/moby/api/types/events"

	"github.com/gantry-dev/gantry/internal/engine/container"
	"github.com/gantry-dev/gantry/internal/engine/events"
	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/network"
)

// AddressPool is one of daemon.json's default-address-pools.
type AddressPool struct {
	Base string `json:"base"`
	Size int    `json:"size"`
}

// networkConfig turns the daemon's flags and daemon.json into the
// bridge's configuration, refusing what dockerd refuses.
func networkConfig(cfg Config, log *slog.Logger) (network.Config, error) {
	nc := network.Config{Bridge: cfg.Bridge, DataRoot: cfg.DataRoot, ExecRoot: cfg.ExecRoot, Log: log}
	if cfg.BIP != "" {
		p, err := netip.ParsePrefix(cfg.BIP)
		if err != nil || !p.Addr().Is4() {
			return nc, errdefs.Invalid("invalid bip %q: an IPv4 address with a prefix length, as 172.30.0.1/16", cfg.BIP)
		}
		if p.Addr() == p.Masked().Addr() {
			return nc, errdefs.Invalid("invalid bip %q: the address is the subnet's own; give the bridge's address, as %s", cfg.BIP, netip.PrefixFrom(p.Addr().Next(), p.Bits()))
		}
		nc.BIP = p
	}
	for _, ap := range cfg.AddressPools {
		base, err := netip.ParsePrefix(ap.Base)
		if err != nil {
			return nc, errdefs.Invalid("invalid default address pool base %q: %v", ap.Base, err)
		}
		pool := network.Pool{Base: base, Size: ap.Size}
		if err := network.CheckPool(pool); err != nil {
			return nc, err
		}
		nc.Pools = append(nc.Pools, pool)
	}
	return nc, nil
}

// openNetwork sets up the default bridge and the user networks; with
// `--bridge none` there is no default bridge, as with dockerd.
func openNetwork(ctx context.Context, cfg Config, log *slog.Logger, bus *events.Bus) (*network.Registry, error) {
	nc, err := networkConfig(cfg, log)
	if err != nil {
		return nil, err
	}
	r, err := network.OpenRegistry(ctx, nc, cfg.Bridge != "none")
	if err != nil {
		return nil, err
	}
	r.Event = func(action, id, name string) {
		bus.Publish(eventtypes.NetworkEventType, eventtypes.Action(action), id, map[string]string{"name": name, "type": "bridge"})
	}
	return r, nil
}

var _ container.Network = (*network.Registry)(nil)
