package daemon_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// userBridgeVeths are the veths on a user network's bridge.
func userBridgeVeths(t *testing.T, d *fixture.Daemon, network string) []string {
	t.Helper()
	br := "br-" + strings.TrimSpace(d.MustDocker("network", "inspect", "-f", "{{.ID}}", network))[:12]
	var out []string
	ents, _ := os.ReadDir("/sys/class/net")
	for _, e := range ents {
		if link, err := os.Readlink(filepath.Join("/sys/class/net", e.Name(), "master")); err == nil && filepath.Base(link) == br {
			out = append(out, e.Name())
		}
	}
	return out
}

// fetch asks, from inside a container, for the server's /hostname.
func fetch(d *fixture.Daemon, from, host string) fixture.Result {
	return d.Docker("exec", from, "sh", "-c", "printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | timeout 3 nc "+host+" 80")
}

// A running container joins a user network: eth1 appears with an address
// from that network, it reaches a container there by name and is found by
// its alias; /etc/hosts gets the address; after a daemon restart it still
// works; after disconnect it cannot reach it, and nothing is left.
func TestNetworkConnectRunning(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("network", "create", "--subnet", "10.231.7.0/24", "back")
	d.MustDocker("run", "-d", "--name", "srv", "--network", "back", "-h", "srvhost", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	d.MustDocker("run", "-d", "--name", "cli", "busybox", "sleep", "300") // on the default bridge
	if res := fetch(d, "cli", "srv"); res.Code == 0 && strings.Contains(res.Stdout, "200 OK") {
		t.Fatalf("reached srv before connect: %q", res.Stdout)
	}
	// Bad addresses: one line each, and nothing plugged or leased.
	srvIP := inspect(d, "srv", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}")
	for ip, want := range map[string]string{srvIP: "Address already in use", "10.9.9.9": "no configured subnet contains IP address 10.9.9.9"} {
		res := d.Docker("network", "connect", "--ip", ip, "back", "cli")
		if res.Code == 0 || !strings.Contains(res.Stderr, want) || strings.Count(strings.TrimSpace(res.Stderr), "\n") > 0 {
			t.Errorf("connect --ip %s: %d %q", ip, res.Code, res.Stderr)
		}
	}
	if v := userBridgeVeths(t, d, "back"); len(v) != 1 {
		t.Errorf("veths on back after failed connects (srv's only): %v", v)
	}
	if res := d.Docker("exec", "cli", "ip", "link", "show", "eth1"); res.Code == 0 {
		t.Errorf("eth1 after failed connects: %q", res.Stdout)
	}
	if n := inspect(d, "back", "{{len .Containers}}"); n != "1" {
		t.Errorf("containers on back after failed connects: %s", n)
	}
	d.MustDocker("network", "connect", "--alias", "client", "--ip", "10.231.7.77", "back", "cli")

	addr := d.MustDocker("exec", "cli", "ip", "-4", "-o", "addr", "show", "eth1")
	if !strings.Contains(addr, "10.231.7.77/24") {
		t.Errorf("eth1 after connect: %q", addr)
	}
	if res := fetch(d, "cli", "srv"); res.Code != 0 || !strings.Contains(res.Stdout, "srvhost") {
		t.Errorf("srv by name after connect: %d %q %q", res.Code, res.Stdout, res.Stderr)
	}
	if out := d.MustDocker("exec", "srv", "nslookup", "client", "127.0.0.11"); !strings.Contains(out, "10.231.7.77") {
		t.Errorf("the alias from srv: %q", out)
	}
	if hosts := d.MustDocker("exec", "cli", "cat", "/etc/hosts"); !strings.Contains(hosts, "10.231.7.77\t") {
		t.Errorf("/etc/hosts after connect: %q", hosts)
	}
	nets := d.MustDocker("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}", "cli")
	if !strings.Contains(nets, "back=10.231.7.77") || !strings.Contains(nets, "bridge=") {
		t.Errorf("inspect's networks: %q", nets)
	}
	if res := d.Docker("network", "connect", "back", "cli"); res.Code == 0 || !strings.Contains(res.Stderr, "already exists in network back") {
		t.Errorf("a second connect: %d %q", res.Code, res.Stderr)
	}
	if res := d.Docker("network", "connect", "--ip", "10.231.7.77", "bridge", "srv"); res.Code == 0 || strings.Count(strings.TrimSpace(res.Stderr), "\n") > 0 {
		t.Errorf("--ip on the default bridge: %d %q", res.Code, res.Stderr)
	}

	// The connection is in the record: a daemon restart keeps it.
	d.Stop()
	d.Start()
	if res := fetch(d, "cli", "srv"); res.Code != 0 || !strings.Contains(res.Stdout, "srvhost") {
		t.Errorf("srv by name after a daemon restart: %d %q %q", res.Code, res.Stdout, res.Stderr)
	}
	if out := d.MustDocker("exec", "srv", "nslookup", "client", "127.0.0.11"); !strings.Contains(out, "10.231.7.77") {
		t.Errorf("the alias after a daemon restart: %q", out)
	}

	d.MustDocker("network", "disconnect", "back", "cli")
	if res := fetch(d, "cli", "srv"); res.Code == 0 && strings.Contains(res.Stdout, "srvhost") {
		t.Errorf("reached srv after disconnect: %q", res.Stdout)
	}
	if res := d.Docker("exec", "cli", "ip", "link", "show", "eth1"); res.Code == 0 {
		t.Errorf("eth1 after disconnect: %q", res.Stdout)
	}
	if out := d.Docker("exec", "srv", "nslookup", "client", "127.0.0.11"); strings.Contains(out.Stdout, "10.231.7.77") {
		t.Errorf("the alias resolves after disconnect: %q", out.Stdout)
	}
	if hosts := d.MustDocker("exec", "cli", "cat", "/etc/hosts"); strings.Contains(hosts, "10.231.7.77") {
		t.Errorf("/etc/hosts after disconnect: %q", hosts)
	}
	if v := userBridgeVeths(t, d, "back"); len(v) != 1 {
		t.Errorf("veths on back after disconnect (srv's only): %v", v)
	}
	if res := d.Docker("network", "disconnect", "back", "cli"); res.Code == 0 || !strings.Contains(res.Stderr, "is not connected to network back") {
		t.Errorf("a second disconnect: %d %q", res.Code, res.Stderr)
	}

	// Connected again, the address is free again; the container's exit
	// releases both interfaces.
	d.MustDocker("network", "connect", "--ip", "10.231.7.77", "back", "cli")
	if res := fetch(d, "cli", "srv"); res.Code != 0 || !strings.Contains(res.Stdout, "srvhost") {
		t.Errorf("srv after connecting again: %d %q", res.Code, res.Stdout)
	}
	if rc := d.MustDocker("exec", "cli", "cat", "/etc/resolv.conf"); !strings.Contains(rc, "nameserver 127.0.0.11") {
		t.Errorf("resolv.conf on a network with names: %q", rc)
	}
	// Stopped, the connection stays; left while stopped, the next start has
	// the host's resolvers again.
	d.MustDocker("restart", "-t", "1", "cli")
	if res := fetch(d, "cli", "srv"); res.Code != 0 || !strings.Contains(res.Stdout, "srvhost") {
		t.Errorf("srv after a restart of cli: %d %q", res.Code, res.Stdout)
	}
	d.MustDocker("stop", "-t", "1", "cli")
	d.MustDocker("network", "disconnect", "back", "cli")
	d.MustDocker("start", "cli")
	if rc := d.MustDocker("exec", "cli", "cat", "/etc/resolv.conf"); strings.Contains(rc, "127.0.0.11") {
		t.Errorf("resolv.conf without a network with names: %q", rc)
	}
	if res := d.Docker("exec", "cli", "ip", "link", "show", "eth1"); res.Code == 0 {
		t.Errorf("eth1 after a disconnect while stopped: %q", res.Stdout)
	}
	d.MustDocker("rm", "-f", "cli")
	if v := userBridgeVeths(t, d, "back"); len(v) != 1 {
		t.Errorf("veths on back after rm (srv's only): %v", v)
	}
	d.MustDocker("rm", "-f", "srv")
	d.MustDocker("network", "rm", "back")
	assertBridgeEmpty(t, d)
}

// A running container leaves the network it started on: eth0 goes, the
// network it was connected to stays and becomes its first at the next start.
func TestNetworkDisconnectFirstRunning(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("network", "create", "one")
	d.MustDocker("network", "create", "two")
	d.MustDocker("run", "-d", "--name", "srv", "--network", "two", "-h", "srvhost", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	d.MustDocker("run", "-d", "--name", "cc", "--network", "one", "busybox", "sleep", "300")
	d.MustDocker("network", "connect", "two", "cc")
	d.MustDocker("network", "disconnect", "-f", "one", "cc")
	if res := d.Docker("exec", "cc", "ip", "link", "show", "eth0"); res.Code == 0 {
		t.Errorf("eth0 after leaving its first network: %q", res.Stdout)
	}
	if res := fetch(d, "cc", "srv"); res.Code != 0 || !strings.Contains(res.Stdout, "srvhost") {
		t.Errorf("srv over eth1: %d %q %q", res.Code, res.Stdout, res.Stderr)
	}
	d.MustDocker("restart", "-t", "1", "cc")
	nets := d.MustDocker("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "cc")
	if strings.TrimSpace(nets) != "two" {
		t.Errorf("networks after a restart: %q", nets)
	}
	if res := fetch(d, "cc", "srv"); res.Code != 0 || !strings.Contains(res.Stdout, "srvhost") {
		t.Errorf("srv after a restart: %d %q %q", res.Code, res.Stdout, res.Stderr)
	}
	// Two networks at create (API 1.44+): eth0 on the first, eth1 on the other.
	d.MustDocker("run", "-d", "--name", "multi", "--network", "one", "--network", "two", "busybox", "sleep", "300")
	if res := fetch(d, "multi", "srv"); res.Code != 0 || !strings.Contains(res.Stdout, "srvhost") {
		t.Errorf("srv from a container made on two networks: %d %q %q", res.Code, res.Stdout, res.Stderr)
	}
	if res := d.Docker("exec", "multi", "ip", "link", "show", "eth1"); res.Code != 0 {
		t.Errorf("eth1 of a container made on two networks: %q", res.Stderr)
	}
	// The docker CLI refuses none beside a network itself; the API answers as Docker's.
	body := `{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none"},"NetworkingConfig":{"EndpointsConfig":{"one":{}}}}`
	resp, err := d.HTTPClient().Post("http://gantry/v1.51/containers/create", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(msg), "private (none) mode") {
		t.Errorf("none and a network at create: %d %s", resp.StatusCode, msg)
	}
	d.MustDocker("rm", "-f", "cc", "srv", "multi")
	d.MustDocker("network", "rm", "one", "two")
	assertBridgeEmpty(t, d)
}

// --network container:NAME shares the other container's namespace: the
// same interface and address, and a port one serves is the other's
// 127.0.0.1; Docker's conflicts and its error for a stopped target.
func TestNetworkContainerMode(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("run", "-d", "--name", "owner", "-h", "ownerhost", "busybox", "httpd", "-f", "-p", "8080", "-h", "/etc")
	d.MustDocker("run", "-d", "--name", "guest", "--network", "container:owner", "busybox", "sleep", "300")
	a := d.MustDocker("exec", "owner", "ip", "-4", "-o", "addr", "show", "eth0")
	b := d.MustDocker("exec", "guest", "ip", "-4", "-o", "addr", "show", "eth0")
	ipOf := func(s string) string {
		f := strings.Fields(s)
		for i, x := range f {
			if x == "inet" && i+1 < len(f) {
				return f[i+1]
			}
		}
		return ""
	}
	if ipOf(a) == "" || ipOf(a) != ipOf(b) {
		t.Errorf("addresses: owner %q, guest %q", a, b)
	}
	res := d.Docker("exec", "guest", "sh", "-c", "printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | timeout 3 nc 127.0.0.1 8080")
	if res.Code != 0 || !strings.Contains(res.Stdout, "ownerhost") {
		t.Errorf("owner's port on the guest's loopback: %d %q %q", res.Code, res.Stdout, res.Stderr)
	}
	if n := inspect(d, "guest", "{{len .NetworkSettings.Networks}}"); n != "0" {
		t.Errorf("guest's own networks: %s", n)
	}
	if h := strings.TrimSpace(d.MustDocker("exec", "guest", "hostname")); h != "ownerhost" {
		t.Errorf("guest's hostname: %q", h)
	}
	if hosts := d.MustDocker("exec", "guest", "cat", "/etc/hosts"); !strings.Contains(hosts, "ownerhost") {
		t.Errorf("guest's /etc/hosts: %q", hosts)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-p", "9090:80"}, "conflicting options: port publishing and the container type network mode"},
		{[]string{"-P", "--expose", "80"}, "conflicting options: port publishing and the container type network mode"},
		{[]string{"--expose", "80"}, "conflicting options: port exposing and the container type network mode"},
		{[]string{"--hostname", "x"}, "conflicting options: hostname and the network mode"},
		{[]string{"--dns", "1.1.1.1"}, "conflicting options: dns and the network mode"},
		{[]string{"--add-host", "a:1.2.3.4"}, "conflicting options: custom host-to-IP mapping and the network mode"},
		{[]string{"--mac-address", "02:42:ac:11:00:09"}, "conflicting options: mac-address and the network mode"},
		{[]string{"--ip", "10.1.2.3"}, "user specified IP address is supported on user defined networks only"},
	} {
		args := append([]string{"create", "--network", "container:owner"}, c.args...)
		res := d.Docker(append(args, "busybox", "true")...)
		if res.Code == 0 || !strings.Contains(res.Stderr, c.want) {
			t.Errorf("%v: %d %q, want %q", c.args, res.Code, res.Stderr, c.want)
		}
	}
	if res := d.Docker("run", "--network", "container:nosuch", "busybox", "true"); res.Code == 0 || !strings.Contains(res.Stderr, "No such container: nosuch") {
		t.Errorf("a missing target: %d %q", res.Code, res.Stderr)
	}
	if res := d.Docker("network", "connect", "bridge", "guest"); res.Code == 0 || !strings.Contains(res.Stderr, "container sharing network namespace with another container or host cannot be connected to any other network") {
		t.Errorf("connect of a guest: %d %q", res.Code, res.Stderr)
	}
	d.MustDocker("create", "--name", "stopped", "busybox", "true")
	d.MustDocker("create", "--name", "late", "--network", "container:stopped", "busybox", "true")
	if res := d.Docker("start", "late"); res.Code == 0 || !strings.Contains(res.Stderr, "cannot join network namespace of a non running container: container stopped is created") {
		t.Errorf("start beside a stopped target: %d %q", res.Code, res.Stderr)
	}
	d.MustDocker("rm", "-f", "guest", "owner", "late", "stopped")
	assertBridgeEmpty(t, d)
}
