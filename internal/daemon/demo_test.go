package daemon_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// TestDemo runs `make demo`'s script, the README's first command, as it
// is: the whole workflow of a Docker tutorial on this machine, with its
// own daemon, which must end leaving nothing behind.
func TestDemo(t *testing.T) {
	fixture.RequireRoot(t)
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "demo.sh"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "GANTRY="+fixture.Binary(t), "DEMO_ENGINE=gantry")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the demo failed: %v\n%s", err, out)
	}
	for _, want := range []string{"hello from copy 1", "hello from copy 3", "changed by exec", "CACHED", "the demo left nothing behind"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out)
		}
	}
}
