package daemon_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/fixture"
	"github.com/gantry-dev/gantry/internal/network"
)

// httpGet fetches url, retrying while the server in the container comes
// up; it returns the body or fails the test.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 3 * time.Second}
	var last error
	for range 50 {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return strings.TrimSpace(string(body))
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

// hostAddress is one of this host's non-loopback IPv4 addresses outside
// every test bridge: a published port answers there too.
func hostAddress(t *testing.T) string {
	t.Helper()
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 || strings.HasPrefix(i.Name, "gt") || strings.HasPrefix(i.Name, "veth") {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	t.Skip("the host has no non-loopback IPv4 address")
	return ""
}

// bridgeState is what the daemon's bridge holds: its veths, its DNAT
// rules and its address leases.
type bridgeState struct {
	veths  []string
	dnats  int
	leases map[string]string
}

func stateOf(t *testing.T, d *fixture.Daemon) bridgeState {
	t.Helper()
	var st bridgeState
	ifs, _ := net.Interfaces()
	br, err := net.InterfaceByName(d.Bridge)
	if err != nil {
		t.Fatalf("the daemon's bridge %s: %v", d.Bridge, err)
	}
	for _, i := range ifs {
		// A veth on our bridge has it as master: /sys/class/net/X/master.
		if link, err := os.Readlink(filepath.Join("/sys/class/net", i.Name, "master")); err == nil && filepath.Base(link) == br.Name {
			st.veths = append(st.veths, i.Name)
		}
	}
	out, err := exec.Command("nft", "list", "chain", "ip", network.TableName(d.Bridge), "ports").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list: %v: %s", err, out)
	}
	st.dnats = strings.Count(string(out), "dnat to")
	data, err := os.ReadFile(filepath.Join(d.DataRoot, "network", d.Bridge, "leases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var l struct{ Leases map[string]string }
	if err := json.Unmarshal(data, &l); err != nil {
		t.Fatal(err)
	}
	st.leases = l.Leases
	return st
}

// settledState is the bridge's state once cond holds, or after 5 s: a
// container's veth is deleted, and its address released, in the
// background after it stops.
func settledState(t *testing.T, d *fixture.Daemon, cond func(bridgeState) bool) bridgeState {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := stateOf(t, d)
		if cond(st) || time.Now().After(deadline) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func assertBridgeEmpty(t *testing.T, d *fixture.Daemon) {
	t.Helper()
	st := settledState(t, d, func(st bridgeState) bool { return len(st.veths) == 0 && st.dnats == 0 && len(st.leases) == 0 })
	if len(st.veths) != 0 || st.dnats != 0 || len(st.leases) != 0 {
		t.Errorf("left behind: veths %v, %d DNAT rules, leases %v", st.veths, st.dnats, st.leases)
	}
	if left := entries(filepath.Join(d.ExecRoot, "netns")); len(left) != 0 {
		t.Errorf("network namespaces left: %v", left)
	}
}

// forwardAccepts counts the daemon's accept rules in iptables' FORWARD.
func forwardAccepts(t *testing.T, d *fixture.Daemon) int {
	out, err := exec.Command("nft", "list", "chain", "ip", "filter", "FORWARD").CombinedOutput()
	if err != nil {
		return -1 // no iptables on this host: nothing to count
	}
	return strings.Count(string(out), `"gantry bridge `+d.Bridge+`"`)
}

func inspectJSON(t *testing.T, d *fixture.Daemon, name string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(d.MustDocker("inspect", name)), v); err != nil {
		t.Fatal(err)
	}
}

// The seed's example: three copies of one server on 8081-8083, each
// reached with an HTTP request from the host on localhost and on the
// host's address, and from another container through the host (hairpin).
func TestPublishedPortsAnswer(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	host := hostAddress(t)
	ids := map[int]string{}
	for i := 1; i <= 3; i++ {
		port := 8080 + i
		id := strings.TrimSpace(d.MustDocker("run", "-d", "--name", fmt.Sprintf("web%d", i), "-p", fmt.Sprintf("%d:80", port), "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"))
		ids[port] = id[:12]
	}
	for port, short := range ids {
		// busybox httpd serves the container's /etc/hostname: its short ID.
		for _, addr := range []string{"127.0.0.1", "localhost", host} {
			if got := httpGet(t, fmt.Sprintf("http://%s:%d/hostname", addr, port)); got != short {
				t.Errorf("%s:%d answered %q, want the container %s", addr, port, got, short)
			}
		}
		out := d.MustDocker("run", "--rm", "busybox", "sh", "-c", fmt.Sprintf(`printf 'GET /hostname HTTP/1.0\r\n\r\n' | nc %s %d`, host, port))
		if !strings.HasSuffix(strings.TrimSpace(out), short) {
			t.Errorf("hairpin to %s:%d answered %q, want %s", host, port, out, short)
		}
	}
	ps := d.MustDocker("ps", "--format", "{{.Names}} {{.Ports}}")
	for i := 1; i <= 3; i++ {
		want := fmt.Sprintf("web%d 0.0.0.0:%d->80/tcp", i, 8080+i)
		if !strings.Contains(ps, want) {
			t.Errorf("ps shows\n%s\nwant a line %q", ps, want)
		}
	}
	if got := strings.TrimSpace(d.MustDocker("port", "web2")); got != "80/tcp -> 0.0.0.0:8082" {
		t.Errorf("docker port web2 = %q", got)
	}
	if got := strings.TrimSpace(d.MustGantry("port", "web3", "80")); got != "0.0.0.0:8083" {
		t.Errorf("gantry port web3 80 = %q", got)
	}
	var insp []struct {
		NetworkSettings struct {
			Ports    map[string][]struct{ HostIp, HostPort string }
			Networks map[string]struct{ IPAddress, Gateway, MacAddress string }
		}
		HostsPath string
	}
	inspectJSON(t, d, "web1", &insp)
	ns := insp[0].NetworkSettings
	if b := ns.Ports["80/tcp"]; len(b) != 1 || b[0].HostPort != "8081" || b[0].HostIp != "0.0.0.0" {
		t.Errorf("inspect Ports = %+v", ns.Ports)
	}
	br := ns.Networks["bridge"]
	if br.IPAddress == "" || br.Gateway == "" || br.MacAddress == "" {
		t.Errorf("inspect Networks.bridge = %+v", br)
	}
	hosts, _ := os.ReadFile(insp[0].HostsPath)
	if !strings.Contains(string(hosts), br.IPAddress+"\t"+ids[8081]) {
		t.Errorf("/etc/hosts does not name the container's address %s:\n%s", br.IPAddress, hosts)
	}
	// The container's own view: eth0 with that address, a default route.
	out := d.MustDocker("exec", "web1", "ip", "-o", "-4", "addr", "show", "eth0")
	if !strings.Contains(out, br.IPAddress+"/") {
		t.Errorf("eth0 in the container: %s, want %s", out, br.IPAddress)
	}
	if out := d.MustDocker("exec", "web1", "ip", "route"); !strings.Contains(out, "default via "+br.Gateway) {
		t.Errorf("routes in the container:\n%s", out)
	}
	d.MustDocker("rm", "-f", "web1", "web2", "web3")
	assertBridgeEmpty(t, d)
}

// -P publishes every exposed port on a port of the kernel's choosing, -p
// with a container port alone too, and udp works as tcp.
func TestPublishAllAndRandomPorts(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("run", "-d", "--name", "all", "--expose", "80", "--expose", "90/udp", "-P", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	out := d.MustDocker("port", "all")
	var tcpPort, udpPort string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, " -> ")
		_, port, _ := strings.Cut(v, ":")
		switch k {
		case "80/tcp":
			tcpPort = port
		case "90/udp":
			udpPort = port
		}
	}
	if tcpPort == "" || udpPort == "" {
		t.Fatalf("docker port all:\n%s\nwant 80/tcp and 90/udp mapped", out)
	}
	if got := httpGet(t, "http://127.0.0.1:"+tcpPort+"/hostname"); len(got) != 12 {
		t.Errorf("the -P port answered %q", got)
	}
	d.MustDocker("run", "-d", "--name", "one", "-p", "80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	p := strings.TrimSpace(d.MustDocker("port", "one", "80"))
	if !strings.HasPrefix(p, "0.0.0.0:") {
		t.Fatalf("docker port one 80 = %q", p)
	}
	httpGet(t, "http://"+p+"/hostname")

	// udp: mapped on the asked address, with its own DNAT rule (busybox
	// has no udp server to answer it).
	d.MustDocker("run", "-d", "--name", "udp", "-p", "127.0.0.1::5000/udp", "busybox", "sleep", "60")
	up := strings.TrimSpace(d.MustDocker("port", "udp", "5000/udp"))
	host, port, _ := strings.Cut(up, ":")
	if host != "127.0.0.1" || port == "" {
		t.Fatalf("docker port udp 5000/udp = %q", up)
	}
	rules, _ := exec.Command("nft", "list", "chain", "ip", network.TableName(d.Bridge), "ports").CombinedOutput()
	if !strings.Contains(string(rules), "ip daddr 127.0.0.1 udp dport "+port+" dnat to") {
		t.Errorf("no udp rule for %s in\n%s", up, rules)
	}
}

// A host port held by another process or container fails the start with
// Docker's message, and leaves no veth, rule, lease or namespace.
func TestTakenPortFailsCleanly(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	res := d.Docker("run", "-d", "--name", "taken", "-p", fmt.Sprintf("%d:80", port), "busybox", "sleep", "60")
	want := fmt.Sprintf("failed to bind host port for 0.0.0.0:%d:", port)
	if res.Code == 0 || !strings.Contains(res.Stderr, want) || !strings.Contains(res.Stderr, "address already in use") {
		t.Errorf("run on a taken port: exit %d, stderr %q, want %q … address already in use", res.Code, res.Stderr, want)
	}
	assertBridgeEmpty(t, d)

	d.MustDocker("run", "-d", "--name", "first", "-p", "8091:80", "busybox", "sleep", "60")
	res = d.Docker("run", "-d", "--name", "second", "-p", "8091:80", "busybox", "sleep", "60")
	if res.Code == 0 || !strings.Contains(res.Stderr, "Bind for 0.0.0.0:8091 failed: port is already allocated") {
		t.Errorf("run on a port another container holds: exit %d, stderr %q", res.Code, res.Stderr)
	}
	st := settledState(t, d, func(st bridgeState) bool { return len(st.veths) == 1 && st.dnats == 1 && len(st.leases) == 1 })
	if len(st.veths) != 1 || st.dnats != 1 || len(st.leases) != 1 {
		t.Errorf("after the failed start: veths %v, %d DNAT rules, leases %v; want only the first container's", st.veths, st.dnats, st.leases)
	}
	// Once the first is gone the port is free again.
	d.MustDocker("rm", "-f", "first")
	d.MustDocker("start", "second")
	d.MustDocker("rm", "-f", "second", "taken")
	assertBridgeEmpty(t, d)
}

// Bad -p values are refused by the CLI with Docker's words, before any
// container exists.
func TestBadPortSpecs(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	for _, c := range []struct{ spec, want string }{
		{"99999:80", "invalid hostPort: 99999"},
		{"notaport", "invalid containerPort: notaport"},
		{"80:99999", "invalid containerPort: 99999"},
		{"8080:80/bogus", "invalid proto: bogus"},
	} {
		for _, cli := range []func(...string) fixture.Result{d.Docker, d.Gantry} {
			res := cli("run", "-d", "-p", c.spec, "busybox", "true")
			if res.Code != 125 || !strings.Contains(res.Stderr, c.want) {
				t.Errorf("-p %s: exit %d, stderr %q, want 125 and %q", c.spec, res.Code, res.Stderr, c.want)
			}
		}
	}
	if ids := strings.TrimSpace(d.MustDocker("ps", "-aq")); ids != "" {
		t.Errorf("bad input left containers: %s", ids)
	}
}

// --network none has only lo; host shares the host's interfaces.
func TestNetworkModes(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	out := d.MustDocker("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "lo:") {
		t.Errorf("--network none links:\n%s", out)
	}
	out = d.MustDocker("run", "--rm", "--network", "host", "busybox", "ip", "-o", "link")
	if !strings.Contains(out, d.Bridge) {
		t.Errorf("--network host does not see the host's links:\n%s", out)
	}
	// A bridge container's resolv.conf has no loopback nameserver.
	out = d.MustDocker("run", "--rm", "busybox", "cat", "/etc/resolv.conf")
	if strings.Contains(out, "nameserver 127.") || !strings.Contains(out, "nameserver") {
		t.Errorf("resolv.conf on the bridge:\n%s", out)
	}
	// --hostname, --add-host (host-gateway is the bridge's address),
	// --dns*, --mac-address, as Docker writes them.
	var insp []struct {
		NetworkSettings struct {
			Networks map[string]struct{ Gateway string }
		}
	}
	d.MustDocker("run", "-d", "--name", "opts", "--hostname", "myhost", "--add-host", "gw:host-gateway", "--add-host", "other:10.1.2.3",
		"--dns", "10.9.9.9", "--dns-search", "example.com", "--dns-option", "ndots:2", "--mac-address", "02:11:22:33:44:55", "busybox", "sleep", "60")
	inspectJSON(t, d, "opts", &insp)
	gw := insp[0].NetworkSettings.Networks["bridge"].Gateway
	out = d.MustDocker("exec", "opts", "sh", "-c", "hostname; cat /etc/hosts /etc/resolv.conf; ip link show eth0")
	for _, want := range []string{"myhost\n", gw + "\tgw\n", "10.1.2.3\tother\n", "\tmyhost\n", "nameserver 10.9.9.9\n", "search example.com\n", "options ndots:2\n", "link/ether 02:11:22:33:44:55"} {
		if !strings.Contains(out, want) {
			t.Errorf("the container's files lack %q:\n%s", want, out)
		}
	}
	res := d.Docker("run", "--rm", "--ip", "10.20.30.40", "busybox", "true")
	if res.Code != 125 || !strings.Contains(res.Stderr, "user specified IP address is supported on user defined networks only") {
		t.Errorf("--ip on the default bridge: exit %d, %s", res.Code, res.Stderr)
	}
	d.MustDocker("rm", "-f", "opts")
	assertBridgeEmpty(t, d)
}

// Published ports keep answering across a daemon restart (SIGTERM or
// SIGKILL), and the rules are not doubled.
func TestRestartKeepsPublishedPorts(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	id := strings.TrimSpace(d.MustDocker("run", "-d", "-p", "8092:80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"))
	httpGet(t, "http://127.0.0.1:8092/hostname")
	before := stateOf(t, d)
	for _, restart := range []func(){d.Stop, d.Kill} {
		restart()
		d.Start()
		if got := httpGet(t, "http://127.0.0.1:8092/hostname"); got != id[:12] {
			t.Errorf("after a restart 8092 answered %q", got)
		}
		after := stateOf(t, d)
		if after.dnats != before.dnats || len(after.veths) != len(before.veths) || len(after.leases) != 1 {
			t.Errorf("after a restart: %+v, before %+v", after, before)
		}
		if n := forwardAccepts(t, d); n != -1 && n != 2 {
			t.Errorf("%d accept rules of the bridge in FORWARD, want 2", n)
		}
		// The port is still held: another container cannot take it.
		if res := d.Docker("run", "-d", "-p", "8092:80", "busybox", "true"); res.Code == 0 {
			t.Error("a second container took the published port after a restart")
		}
	}
	d.MustDocker(append([]string{"rm", "-f"}, strings.Fields(d.MustDocker("ps", "-aq"))...)...)
	assertBridgeEmpty(t, d)
}

// A hundred containers with a published port, started and removed, leave
// no veth, rule, lease or namespace.
func TestNetworkCyclesLeaveNothing(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	for i := range 100 {
		name := fmt.Sprintf("c%d", i)
		d.MustGantry("create", "--name", name, "-p", "80", "busybox", "sleep", "60")
		d.MustGantry("start", name)
		d.MustGantry("rm", "-f", name)
	}
	assertBridgeEmpty(t, d)
}

// httpFrom asks a server for /hostname from inside a new container on
// network (busybox's nc), and returns what came back.
func httpFrom(d *fixture.Daemon, network, host string) fixture.Result {
	return d.Docker("run", "--rm", "--network", network, "busybox", "sh", "-c",
		fmt.Sprintf(`printf 'GET /hostname HTTP/1.0\r\n\r\n' | timeout 5 nc %s 80`, host))
}

// Containers on a user network reach each other by name and alias
// through the embedded DNS server; other networks cannot reach them;
// an internal network has no way out.
func TestUserNetworks(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("network", "create", "--label", "team=a", "appnet")
	d.MustDocker("network", "create", "--subnet", "10.231.0.0/24", "--gateway", "10.231.0.254", "--internal", "closed")
	ls := d.MustDocker("network", "ls", "--format", "{{.Name}} {{.Driver}}")
	for _, want := range []string{"bridge bridge", "host host", "none null", "appnet bridge", "closed bridge"} {
		if !strings.Contains(ls, want+"\n") {
			t.Errorf("network ls lacks %q:\n%s", want, ls)
		}
	}
	id := strings.TrimSpace(d.MustDocker("run", "-d", "--name", "srv", "--network", "appnet", "--network-alias", "web", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"))
	for _, name := range []string{"srv", "web", id[:12]} {
		res := httpFrom(d, "appnet", name)
		if res.Code != 0 || !strings.HasSuffix(strings.TrimSpace(res.Stdout), id[:12]) {
			t.Errorf("by %q on appnet: exit %d, %q %s", name, res.Code, res.Stdout, res.Stderr)
		}
	}
	out := d.MustDocker("run", "--rm", "--network", "appnet", "busybox", "cat", "/etc/resolv.conf")
	if !strings.Contains(out, "nameserver 127.0.0.11") {
		t.Errorf("resolv.conf on a user network:\n%s", out)
	}
	var insp []struct {
		IPAM struct {
			Config []struct{ Subnet, Gateway string }
		}
		Containers map[string]struct{ Name, IPv4Address string }
		Labels     map[string]string
		Internal   bool
	}
	if err := json.Unmarshal([]byte(d.MustDocker("network", "inspect", "appnet")), &insp); err != nil {
		t.Fatal(err)
	}
	srvIP, _, _ := strings.Cut(insp[0].Containers[id].IPv4Address, "/")
	if insp[0].Containers[id].Name != "srv" || srvIP == "" || insp[0].Labels["team"] != "a" {
		t.Errorf("network inspect appnet: %+v", insp[0])
	}
	// The default bridge and the internal network cannot reach it.
	for _, net := range []string{"bridge", "closed"} {
		if res := httpFrom(d, net, srvIP); res.Code == 0 && strings.Contains(res.Stdout, id[:12]) {
			t.Errorf("a container on %s reached appnet's %s", net, srvIP)
		}
	}
	// --ip on a user network; the internal network reaches its own.
	d.MustDocker("run", "-d", "--name", "inner", "--network", "closed", "--ip", "10.231.0.7", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	if res := httpFrom(d, "closed", "10.231.0.7"); res.Code != 0 {
		t.Errorf("inside the internal network: exit %d, %s", res.Code, res.Stderr)
	}
	if res := httpFrom(d, "closed", srvIP); res.Code == 0 && strings.Contains(res.Stdout, id[:12]) {
		t.Error("the internal network reached out")
	}
	// Bad input: overlapping subnet, duplicate name, removing a used or
	// pre-defined network.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"network", "create", "--subnet", "10.231.0.0/16", "over"}, "Pool overlaps with other one on this address space"},
		{[]string{"network", "create", "appnet"}, "network with name appnet already exists"},
		{[]string{"network", "rm", "appnet"}, "has active endpoints"},
		{[]string{"network", "rm", "bridge"}, "bridge is a pre-defined network and cannot be removed"},
	} {
		res := d.Docker(c.args...)
		if res.Code == 0 || !strings.Contains(res.Stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want %q", c.args, res.Code, res.Stderr, c.want)
		}
	}
	// An unknown network: 404 as dockerd (the docker CLI then tries a
	// pull, so the API is asked directly).
	resp, err := d.HTTPClient().Post("http://gantry/containers/create", "application/json",
		strings.NewReader(`{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"nosuch"}}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(body), "network nosuch not found") {
		t.Errorf("create on an unknown network: %d %s", resp.StatusCode, body)
	}
	// Across a restart the names still resolve.
	d.Stop()
	d.Start()
	if res := httpFrom(d, "appnet", "web"); !strings.HasSuffix(strings.TrimSpace(res.Stdout), id[:12]) {
		t.Errorf("after a restart, web on appnet: exit %d, %q %s", res.Code, res.Stdout, res.Stderr)
	}
	d.MustDocker("rm", "-f", "srv", "inner")
	d.MustDocker("network", "rm", "appnet")
	if out := d.MustDocker("network", "prune", "-f"); !strings.Contains(out, "closed") {
		t.Errorf("network prune: %q", out)
	}
	if out := d.MustDocker("network", "ls", "-q"); len(strings.Fields(out)) != 3 {
		t.Errorf("networks left: %s", out)
	}
	links, _ := net.Interfaces()
	for _, l := range links {
		if strings.HasPrefix(l.Name, "br-") {
			if _, err := os.Stat(filepath.Join(d.DataRoot, "network", l.Name)); err == nil {
				t.Errorf("the bridge %s of a removed network is left", l.Name)
			}
		}
	}
	assertBridgeEmpty(t, d)
}

// Network events come as Docker's.
func TestNetworkEvents(t *testing.T) {
	d := fixture.NewDaemon(t)
	cmd := d.DockerCommand("events", "--filter", "type=network", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	d.MustDocker("network", "create", "evnet")
	d.MustDocker("network", "rm", "evnet")
	time.Sleep(300 * time.Millisecond)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if !strings.Contains(out.String(), "network create evnet") || !strings.Contains(out.String(), "network destroy evnet") {
		t.Errorf("events:\n%s", out.String())
	}
}

// gantry's own network commands, beside the docker CLI's.
func TestGantryNetworkCommands(t *testing.T) {
	d := fixture.NewDaemon(t)
	id := strings.TrimSpace(d.MustGantry("network", "create", "--subnet", "10.233.0.0/24", "--label", "k=v", "gnet"))
	if len(id) != 64 {
		t.Fatalf("network create printed %q", id)
	}
	ls := d.MustGantry("network", "ls")
	if !strings.HasPrefix(ls, "NETWORK ID     NAME      DRIVER    SCOPE\n") || !strings.Contains(ls, id[:12]+"   gnet      bridge    local\n") {
		t.Errorf("network ls:\n%s", ls)
	}
	if got := d.MustGantry("network", "inspect", "-f", "{{.Name}} {{(index .IPAM.Config 0).Subnet}} {{.Labels.k}}", "gnet"); got != "gnet 10.233.0.0/24 v\n" {
		t.Errorf("network inspect -f: %q", got)
	}
	if res := d.Gantry("network", "rm", "nosuch"); res.Code != 1 || !strings.Contains(res.Stderr, "network nosuch not found") {
		t.Errorf("network rm nosuch: exit %d, %q", res.Code, res.Stderr)
	}
	if got := d.MustGantry("network", "prune", "-f"); got != "Deleted Networks:\ngnet\n" {
		t.Errorf("network prune: %q", got)
	}
}

// A container's first instruction finds its network ready: eth0 up with
// its address and the default route (the veth is made while the shim
// creates the container, and the start waits for it).
func TestNetworkReadyAtFirstInstruction(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	for i := range 5 {
		out := d.MustDocker("run", "--rm", "-p", fmt.Sprintf("%d:80", 18290+i), "busybox",
			"sh", "-c", "ip -o -4 addr show eth0; ip -o link show eth0; ip route")
		if !strings.Contains(out, "inet 172.") && !strings.Contains(out, "inet 10.") && !strings.Contains(out, "inet 192.168.") {
			t.Fatalf("run %d: no IPv4 address on eth0 at the start:\n%s", i, out)
		}
		if !strings.Contains(out, ",UP,LOWER_UP") || !strings.Contains(out, "default via ") {
			t.Fatalf("run %d: eth0 not up or no default route at the start:\n%s", i, out)
		}
	}
	assertBridgeEmpty(t, d)
}
