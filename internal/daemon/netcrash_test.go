package daemon_test

import (
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/atomicfile"
	"github.com/gantry-dev/gantry/internal/fixture"
)

// After kill -9 of the daemon, the next start keeps the network of what
// still runs (published port, connected network, DNS alias) and drops
// what a crash left: the veths, rules, leases and namespaces of a
// container that died meanwhile and of one whose record is gone, a stray
// veth on the bridge and a lease nobody owns.
func TestNetworkReconcileAfterKill(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("network", "create", "--subnet", "10.231.9.0/24", "side")
	sideBridge := "br-" + inspectNetwork(t, d, "side")[:12]
	d.MustDocker("run", "-d", "--name", "keep", "-p", "127.0.0.1::80", "-h", "keephost", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	d.MustDocker("network", "connect", "--alias", "kept", "side", "keep")
	for _, n := range []string{"died", "lost"} {
		d.MustDocker("run", "-d", "--name", n, "-p", "127.0.0.1::80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
		d.MustDocker("network", "connect", "side", n)
	}
	keepID, lostID := inspect(d, "keep", "{{.Id}}"), inspect(d, "lost", "{{.Id}}")
	pids := []string{inspect(d, "died", "{{.State.Pid}}"), inspect(d, "lost", "{{.State.Pid}}")}
	if st := stateOf(t, d); len(st.veths) != 3 || st.dnats != 3 {
		t.Fatalf("before the crash: %+v", st)
	}

	d.Kill()
	for _, p := range pids {
		pid, _ := strconv.Atoi(p)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for i := 0; len(d.ShimProcesses()) > 1 && i < 100; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	// "lost" went with its record (a crash in the middle of its removal).
	_ = exec.Command("umount", "-l", filepath.Join(d.ExecRoot, "containers", lostID, "rootfs")).Run()
	if err := os.RemoveAll(filepath.Join(d.DataRoot, "containers", lostID)); err != nil {
		t.Fatal(err)
	}
	// A veth on the bridge and a lease no container owns.
	stray := "vethstray" + strconv.Itoa(os.Getpid()%1000)
	if out, err := exec.Command("ip", "link", "add", stray, "master", d.Bridge, "type", "veth", "peer", "name", stray+"p").CombinedOutput(); err != nil {
		t.Fatalf("making a stray veth: %v: %s", err, out)
	}
	defer exec.Command("ip", "link", "del", stray).Run()
	leases := filepath.Join(d.DataRoot, "network", d.Bridge, "leases.json")
	var l map[string]any
	data, err := os.ReadFile(leases)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &l); err != nil {
		t.Fatal(err)
	}
	subnet := netip.MustParsePrefix(l["subnet"].(string))
	a := subnet.Addr().As4()
	a[3] = 250
	l["leases"].(map[string]any)[strings.Repeat("f", 64)] = netip.AddrFrom4(a).String()
	if data, err = json.Marshal(l); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(leases, data, 0o600); err != nil {
		t.Fatal(err)
	}

	d.Start()
	st := stateOf(t, d)
	if len(st.veths) != 1 || st.dnats != 1 || len(st.leases) != 1 {
		t.Errorf("the default bridge after the restart: veths %v, %d DNAT rules, leases %v", st.veths, st.dnats, st.leases)
	}
	for owner := range st.leases {
		if owner != keepID {
			t.Errorf("a lease of %s is left", owner)
		}
	}
	if v := userBridgeVeths(t, d, "side"); len(v) != 1 {
		t.Errorf("veths on side after the restart (keep's only): %v", v)
	}
	var side struct{ Leases map[string]string }
	data, _ = os.ReadFile(filepath.Join(d.DataRoot, "network", sideBridge, "leases.json"))
	if err := json.Unmarshal(data, &side); err != nil || len(side.Leases) != 1 || side.Leases[keepID] == "" {
		t.Errorf("side's leases after the restart: %s %v", data, err)
	}
	if ns := entries(filepath.Join(d.ExecRoot, "netns")); !slices.Equal(ns, []string{keepID}) {
		t.Errorf("namespaces after the restart: %v", ns)
	}
	port := strings.TrimSpace(d.MustDocker("port", "keep", "80"))
	if body := httpGet(t, "http://"+port+"/hostname"); body != "keephost" {
		t.Errorf("keep's published port after the restart: %q", body)
	}
	if out := d.MustDocker("run", "--rm", "--network", "side", "busybox", "nslookup", "kept"); !strings.Contains(out, "10.231.9.") {
		t.Errorf("keep's alias after the restart: %q", out)
	}
	if st := inspect(d, "died", "{{.State.Status}}"); st != "exited" {
		t.Errorf("died after the restart: %s", st)
	}
	d.MustDocker("rm", "-f", "keep", "died")
	d.MustDocker("network", "rm", "side")
	assertBridgeEmpty(t, d)
}

func inspectNetwork(t *testing.T, d *fixture.Daemon, name string) string {
	t.Helper()
	return strings.TrimSpace(d.MustDocker("network", "inspect", "-f", "{{.ID}}", name))
}
