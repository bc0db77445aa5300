package daemon_test

import (
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// A container that is not running moves between networks as Compose
// moves it (disconnect, connect with aliases).
func TestNetworkConnectBeforeStart(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("network", "create", "neta")
	d.MustDocker("network", "create", "netb")
	d.MustDocker("create", "--name", "mover", "--network", "neta", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	d.MustDocker("network", "disconnect", "neta", "mover")
	if res := d.Docker("network", "disconnect", "neta", "mover"); res.Code == 0 || !strings.Contains(res.Stderr, "is not connected to network neta") {
		t.Errorf("a second disconnect: %d %q", res.Code, res.Stderr)
	}
	d.MustDocker("network", "connect", "--alias", "moved", "netb", "mover")
	d.MustDocker("start", "mover")
	nets := d.MustDocker("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "mover")
	if strings.TrimSpace(nets) != "netb" {
		t.Errorf("networks after the move: %q", nets)
	}
	// The alias given at connect resolves on the new network.
	res := d.Docker("run", "--rm", "--network", "netb", "busybox", "sh", "-c", `printf 'GET /hostname HTTP/1.0\r\n\r\n' | timeout 5 nc moved 80`)
	if res.Code != 0 || !strings.Contains(res.Stdout, "200 OK") {
		t.Errorf("the alias from connect: %d %q %q", res.Code, res.Stdout, res.Stderr)
	}
	// Running, it joins a second network and leaves its first (hotplug_test.go).
	d.MustDocker("network", "connect", "neta", "mover")
	d.MustDocker("network", "disconnect", "netb", "mover")
	nets = d.MustDocker("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "mover")
	if strings.TrimSpace(nets) != "neta" {
		t.Errorf("networks after connect and disconnect while running: %q", nets)
	}
	if res := d.Docker("network", "connect", "nosuch", "mover"); res.Code == 0 || !strings.Contains(res.Stderr, "not found") {
		t.Errorf("connect to a missing network: %d %q", res.Code, res.Stderr)
	}
}
