package daemon_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// One daemon per data root; a bad config file is refused in one line; a
// non-loopback TCP address without TLS is refused.
func TestDaemonRefuses(t *testing.T) {
	d := fixture.NewDaemon(t)
	bad := filepath.Join(t.TempDir(), "daemon.json")
	if err := os.WriteFile(bad, []byte(`{"log-driver":"json-file","no-such-option":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	nonRoot := []string{"(as nobody)"}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--data-root", d.DataRoot, "--exec-root", other, "-H", "unix://" + other + "/g.sock"}, "another gantry daemon is using the data root"},
		{[]string{"--data-root", t.TempDir(), "--exec-root", other, "--config-file", bad}, "the following directives don't match any configuration option: no-such-option"},
		{[]string{"--data-root", t.TempDir(), "--exec-root", other, "-H", "tcp://0.0.0.0:23750"}, "without TLS is refused"},
		{[]string{"--data-root", t.TempDir(), "--exec-root", other, "--log-driver", "nope"}, "nope"},
		{[]string{"--data-root", t.TempDir(), "--exec-root", other, "-H", d.Host}, "another daemon is already serving " + strings.TrimPrefix(d.Host, "unix://") + ": stop it first"},
		{nonRoot, "the daemon needs root: rootless mode is not supported yet"},
	}
	for _, c := range cases {
		cmd := exec.Command(d.Bin, append([]string{"daemon"}, c.args...)...)
		if len(c.args) == 1 && c.args[0] == nonRoot[0] {
			cmd = exec.Command(d.Bin, "daemon", "--data-root", t.TempDir())
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("daemon %v: err %v, output %q; want it to fail with %q", c.args, err, out, c.want)
		}
		if n := strings.Count(strings.TrimSpace(string(out)), "\n"); n > 0 {
			t.Errorf("daemon %v: %d lines of error, want one: %q", c.args, n+1, out)
		}
	}
}

// daemon.json settings apply: the default log driver here.
func TestDaemonConfigFile(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "daemon.json")
	if err := os.WriteFile(cfg, []byte(`{"log-driver":"local","log-opts":{"max-size":"1m"},"default-ulimits":{"nofile":{"Name":"nofile","Hard":4321,"Soft":1234}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := fixture.NewDaemon(t, "--config-file", cfg)
	d.Busybox()
	out := d.MustDocker("run", "--name", "ul", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn")
	if out != "1234\n4321\n" {
		t.Errorf("ulimits from daemon.json: %q", out)
	}
	if drv := inspect(d, "ul", "{{.HostConfig.LogConfig.Type}}"); drv != "local" {
		t.Errorf("log driver %q, want local", drv)
	}
	if logs := d.MustDocker("logs", "ul"); logs != "1234\n4321\n" {
		t.Errorf("logs through the local driver: %q", logs)
	}
}
