package daemon_test

import (
	"net"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// Docker's own clients against gantry: the Docker SDK for Python and
// Compose (Debian's python3-docker and docker-compose; make deps installs
// them).

// TestPythonSDK runs a script of the SDK's common calls: containers,
// logs, exec, stats, build, push and pull, volumes, networks, events.
func TestPythonSDK(t *testing.T) {
	if err := exec.Command("python3", "-c", "import docker").Run(); err != nil {
		t.Fatalf("the Docker SDK for Python is not installed (make deps installs python3-docker): %v", err)
	}
	d := fixture.NewDaemon(t)
	d.Busybox()
	registry := fixture.DistributionRegistry(t)
	cmd := exec.Command("python3", filepath.Join("testdata", "sdk_smoke.py"), d.Host, registry)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the SDK script failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
