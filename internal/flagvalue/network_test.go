package flagvalue

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestNetworkOpt(t *testing.T) {
	for _, c := range []struct {
		in   string
		want NetworkAttachmentOpts
	}{
		{"bridge", NetworkAttachmentOpts{Target: "bridge"}},
		{"container:abc", NetworkAttachmentOpts{Target: "container:abc"}},
		{"my=", NetworkAttachmentOpts{Target: "my="}}, // no word after "=": a name
		{"name=Front,alias=a,alias=b", NetworkAttachmentOpts{Target: "front", Aliases: []string{"a", "b"}}},
		{"name=n,ip=10.0.0.2,ip6=2001:db8::2,mac-address=AA:BB:CC:DD:EE:FF,gw-priority=5", NetworkAttachmentOpts{
			Target: "n", Aliases: []string{}, IPv4Address: netip.MustParseAddr("10.0.0.2"), IPv6Address: netip.MustParseAddr("2001:db8::2"),
			MacAddress: "aa:bb:cc:dd:ee:ff", GwPriority: 5,
		}},
		{"name=n,link-local-ip=169.254.0.1,driver-opt=com.x=Y", NetworkAttachmentOpts{
			Target: "n", Aliases: []string{}, LinkLocalIPs: []netip.Addr{netip.MustParseAddr("169.254.0.1")}, DriverOpts: map[string]string{"com.x": "y"},
		}},
	} {
		var n NetworkOpt
		if err := n.Set(c.in); err != nil {
			t.Errorf("Set(%q): %v", c.in, err)
			continue
		}
		if got := n.Value(); len(got) != 1 || !reflect.DeepEqual(got[0], c.want) {
			t.Errorf("Set(%q) = %+v, want %+v", c.in, got, c.want)
		}
		if n.NetworkMode() != c.want.Target {
			t.Errorf("NetworkMode = %q", n.NetworkMode())
		}
	}
	var none NetworkOpt
	if none.NetworkMode() != "default" {
		t.Errorf("NetworkMode of nothing = %q", none.NetworkMode())
	}
	for in, want := range map[string]string{
		"alias=a":              "network name/id is not specified",
		"name=n,bogus=1":       "invalid field key bogus",
		"name=n,x":             "invalid field x",
		"name=n,=x":            "invalid field =x",
		"name=n,ip=bad":        `ParseAddr("bad"): unable to parse IP`,
		"name=n,driver-opt=x":  "invalid key value pair format in driver options",
		"name=n,gw-priority=x": "invalid gw-priority (x): invalid syntax",
		"name=n,gw-priority=99999999999999999999": "invalid gw-priority (99999999999999999999): value out of range",
	} {
		var n NetworkOpt
		if err := n.Set(in); errText(err) != want {
			t.Errorf("Set(%q) = %v, want %q", in, err, want)
		}
	}
}
