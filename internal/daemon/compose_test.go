package daemon_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// TestCompose brings up examples/compose (a built service with a
// published port that reads from another by its name, on the project's
// network, with a named volume), looks at it as a user would, and takes
// it down with its volume, leaving nothing.
func TestCompose(t *testing.T) {
	composeBin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatalf("docker-compose is not installed (make deps installs it): %v", err)
	}
	d := fixture.NewDaemon(t)
	d.Busybox()
	port := freePort(t)
	compose := func(args ...string) (string, error) {
		cmd := exec.Command(composeBin, append([]string{"-p", "gxcompose", "--no-ansi"}, args...)...)
		cmd.Dir = filepath.Join("..", "..", "examples", "compose")
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host, "WEB_PORT="+strconv.Itoa(port),
			"DOCKER_CONFIG="+filepath.Join(d.DataRoot, "docker-config"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { compose("down", "-v") })
	if out, err := compose("up", "-d", "--build"); err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	out, err := compose("ps")
	if err != nil || !strings.Contains(out, "gxcompose_web_1") || !strings.Contains(out, "gxcompose_store_1") || !strings.Contains(out, "Up") {
		t.Errorf("ps: %v\n%s", err, out)
	}
	// web reaches store by its name on the project's network, through
	// the published port.
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		body = httpGet(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/cgi-bin/visits")
		if storeAnswered(body) {
			break
		}
	}
	if !storeAnswered(body) {
		t.Fatalf("web did not get store's data through its name: %q", body)
	}
	if out, err := compose("exec", "-T", "store", "cat", "/data/visits.txt"); err != nil || strings.TrimSpace(out) == "" {
		t.Errorf("exec: %v %q", err, out)
	}
	if out, err := compose("logs", "store"); err != nil || !strings.Contains(out, "store_1") {
		t.Errorf("logs: %v\n%s", err, out)
	}
	if out, err := compose("down", "-v"); err != nil {
		t.Fatalf("down -v: %v\n%s", err, out)
	}
	if ps := d.MustGantry("ps", "-aq"); ps != "" {
		t.Errorf("containers left after down: %s", ps)
	}
	if vols := d.MustGantry("volume", "ls", "-q"); strings.Contains(vols, "gxcompose") {
		t.Errorf("volumes left after down -v: %s", vols)
	}
	if nets := d.MustGantry("network", "ls", "--format", "{{.Name}}"); strings.Contains(nets, "gxcompose") {
		t.Errorf("networks left after down: %s", nets)
	}
}

// storeAnswered: web's page names the store and carries the store's
// visits file (a date per start) below that line.
func storeAnswered(body string) bool {
	lines := strings.Split(strings.TrimSpace(body), "\n")
	return len(lines) >= 2 && strings.Contains(lines[0], "asks store:8000") && strings.TrimSpace(lines[1]) != ""
}
