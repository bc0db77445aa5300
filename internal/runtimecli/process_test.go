package runtimecli_test

import (
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// What config.json asks of the process and the container shows inside it.
func TestProcessSettings(t *testing.T) {
	r := fixture.NewRuntime(t)
	spec := fixture.Spec("procset", "sh", "-c", strings.Join([]string{
		`echo "nofile=$(ulimit -n)"`,
		`echo "umask=$(umask)"`,
		`echo "oom=$(cat /proc/self/oom_score_adj)"`,
		`echo "nnp=$(grep NoNewPrivs /proc/self/status | tr -d ' \t' | cut -d: -f2)"`,
		`echo "ids=$(id -u):$(id -g):$(id -G)"`,
		`echo "cwd=$(pwd)"`,
		`echo "env=$GREETING"`,
		`echo "sysctl=$(cat /proc/sys/kernel/msgmax)"`,
		`echo "dev=$(stat -c '%F %t:%T' /dev/mydev)"`,
		`echo "domain=$(cat /proc/sys/kernel/domainname)"`,
	}, "; "))
	umask := uint32(0o027)
	oom := 123
	mode := os.FileMode(0o666)
	spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 512, Soft: 256}}
	spec.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{20, 30}, Umask: &umask}
	spec.Process.OOMScoreAdj = &oom
	spec.Process.NoNewPrivileges = true
	spec.Process.Cwd = "/tmp"
	spec.Process.Env = append(spec.Process.Env, "GREETING=hello")
	spec.Domainname = "example.test"
	spec.Linux.Sysctl = map[string]string{"kernel.msgmax": "4096"}
	spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/mydev", Type: "c", Major: 1, Minor: 5, FileMode: &mode}}
	b := fixture.Bundle(t, spec)
	res := r.Run("run", "-b", b, "procset")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	want := []string{
		"nofile=256", "umask=0027", "oom=123", "nnp=1", "ids=1000:1000:1000 20 30", "cwd=/tmp",
		"env=hello", "sysctl=4096", "dev=character special file 1:5", "domain=example.test",
	}
	for _, w := range want {
		if !strings.Contains(res.Stdout, w+"\n") {
			t.Errorf("missing %q in:\n%s", w, res.Stdout)
		}
	}
}
