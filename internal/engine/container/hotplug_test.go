package container

import (
	"net/netip"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	gnet "github.com/gantry-dev/gantry/internal/network"
)

func TestNextIfname(t *testing.T) {
	for _, c := range []struct {
		used []string
		want string
	}{
		{nil, "eth1"},
		{[]string{"eth1"}, "eth2"},
		{[]string{"eth2"}, "eth1"}, // eth1's network was left: its name is free again
		{[]string{"eth1", "eth2", "eth3"}, "eth4"},
	} {
		rec := &Record{}
		for _, n := range c.used {
			rec.Extra = append(rec.Extra, &gnet.Endpoint{Ifname: n})
		}
		if got := nextIfname(rec); got != c.want {
			t.Errorf("used %v: %s, want %s", c.used, got, c.want)
		}
	}
}

func TestForgetConnection(t *testing.T) {
	ip := netip.MustParseAddr("10.0.0.9")
	rec := &Record{HostConfig: &container.HostConfig{NetworkMode: "one"}, Connections: []Connection{{Network: "two", IP: ip, Aliases: []string{"b"}}, {Network: "three"}}}
	forgetConnection(rec, "three")
	if len(rec.Connections) != 1 || rec.Connections[0].Network != "two" {
		t.Fatalf("after leaving a further network: %+v", rec.Connections)
	}
	forgetConnection(rec, "one") // the first: the next one takes its place
	if rec.HostConfig.NetworkMode != "two" || rec.IP != ip || len(rec.Aliases) != 1 || len(rec.Connections) != 0 || rec.NetworkDisconnected {
		t.Fatalf("after leaving the first network: %+v %+v", rec.HostConfig.NetworkMode, rec)
	}
	forgetConnection(rec, "two") // the last: loopback only
	if rec.HostConfig.NetworkMode != "none" || !rec.NetworkDisconnected || rec.IP.IsValid() {
		t.Fatalf("after leaving the last network: %+v", rec)
	}
	if connected(rec, "none") || connected(rec, "two") {
		t.Errorf("a disconnected container is connected")
	}
}

func TestCheckConnect(t *testing.T) {
	for _, c := range []struct {
		mode, name, want string
		disconnected     bool
		conns            []Connection
	}{
		{mode: "container:x", name: "n", want: errSharedNetwork},
		{mode: "none", name: "n", want: errNoNetwork},
		{mode: "none", name: "n", disconnected: true},
		{mode: "bridge", name: "none", want: errNoNetwork},
		{mode: "bridge", name: "bridge", want: "endpoint with name c already exists in network bridge"},
		{mode: "bridge", name: "n", conns: []Connection{{Network: "n"}}, want: "endpoint with name c already exists in network n"},
		{mode: "bridge", name: "n"},
	} {
		rec := &Record{Name: "c", HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(c.mode)}, NetworkDisconnected: c.disconnected, Connections: c.conns}
		err := checkConnect(rec, c.name)
		if (err == nil) != (c.want == "") || (err != nil && err.Error() != c.want) {
			t.Errorf("%s to %s: %v, want %q", c.mode, c.name, err, c.want)
		}
	}
}

func TestCheckJoinedOptions(t *testing.T) {
	hc := func(f func(*container.HostConfig)) *container.HostConfig {
		h := &container.HostConfig{NetworkMode: "container:x"}
		f(h)
		return h
	}
	port, _ := network.ParsePort("80/tcp")
	for _, c := range []struct {
		cfg  *container.Config
		hc   *container.HostConfig
		want string
	}{
		{&container.Config{}, hc(func(*container.HostConfig) {}), ""},
		{&container.Config{Hostname: "h"}, hc(func(*container.HostConfig) {}), errConflictHostname},
		{&container.Config{}, hc(func(h *container.HostConfig) { h.DNS = []netip.Addr{netip.MustParseAddr("1.1.1.1")} }), errConflictDNS},
		{&container.Config{}, hc(func(h *container.HostConfig) { h.ExtraHosts = []string{"a:1.2.3.4"} }), errConflictHosts},
		{&container.Config{}, hc(func(h *container.HostConfig) { h.PublishAllPorts = true }), errConflictPublishPorts},
		{&container.Config{ExposedPorts: network.PortSet{port: {}}}, hc(func(*container.HostConfig) {}), errConflictExposePorts},
		{&container.Config{Hostname: "h"}, &container.HostConfig{NetworkMode: "bridge"}, ""},
	} {
		err := checkJoinedOptions(c.cfg, c.hc)
		if (err == nil) != (c.want == "") || (err != nil && err.Error() != c.want) {
			t.Errorf("%+v %+v: %v, want %q", c.cfg, c.hc, err, c.want)
		}
	}
}
