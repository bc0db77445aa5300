package daemon_test

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/fixture"
	"github.com/gantry-dev/gantry/internal/network"
)

// The bridge has route_localnet on (the host reaches published ports on
// 127.0.0.1 through it), which would also let a container send packets to
// the host's loopback-only services (CVE-2020-8558). The bridge's table
// drops them before NAT; and a privileged container that routes
// 127.0.0.0/8 to the bridge and connects to a service the host keeps on
// 127.0.0.1 must never reach it. (The kernels here also answer such a
// connection from the bridge's address, which breaks the handshake: the
// rule is what keeps single packets, UDP among them, out.)
func TestLoopbackServicesOutOfReach(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	out, err := exec.Command("nft", "list", "chain", "ip", network.TableName(d.Bridge), "raw-prerouting").CombinedOutput()
	if want := `iifname "` + d.Bridge + `" ip daddr 127.0.0.0/8 drop`; err != nil || !strings.Contains(string(out), want) {
		t.Errorf("the bridge's table does not drop packets to 127.0.0.0/8 from containers (%v):\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Write([]byte("host secret\n"))
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port

	// Sanity: the same container reaches the host through the bridge's
	// address, so a failure below is the guard, not a broken network.
	probe := d.MustGantry("run", "-d", "--privileged", "busybox", "sleep", "60")
	id := strings.TrimSpace(probe)
	gateway := strings.TrimSpace(d.MustGantry("inspect", "-f", "{{(index .NetworkSettings.Networks \"bridge\").Gateway}}", id))
	if net.ParseIP(gateway) == nil {
		t.Fatalf("no gateway: %q", gateway)
	}
	script := `ip route del 127.0.0.0/8 dev lo table local 2>/dev/null
sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.eth0.route_localnet=1
ip route add 127.0.0.0/8 via ` + gateway + ` dev eth0
echo hello | nc -w 2 127.0.0.1 ` + strconv.Itoa(port) + `; echo "nc exit $?"`
	res := d.Gantry("exec", id, "sh", "-c", script)
	if strings.Contains(res.Stdout, "host secret") || accepted.Load() > 0 {
		t.Fatalf("a container reached a service on the host's 127.0.0.1 through the bridge: %q", res.Stdout)
	}
	if !strings.Contains(res.Stdout, "nc exit") {
		t.Fatalf("the probe did not run: %+v", res)
	}
	time.Sleep(200 * time.Millisecond)
	if accepted.Load() > 0 {
		t.Fatal("the host's loopback service accepted a connection from a container")
	}
}
