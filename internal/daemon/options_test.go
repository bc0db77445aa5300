package daemon_test

import (
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// The container options a user sets with run reach the container.
func TestRunOptions(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	cases := []struct {
		name string
		args []string
		want string // the output must contain this
	}{
		{"env and entrypoint", []string{"-e", "A=1", "--entrypoint", "sh", "busybox", "-c", "echo A=$A"}, "A=1\n"},
		{"empty entrypoint keeps cmd", []string{"--entrypoint", "", "busybox", "echo", "hi"}, "hi\n"},
		{"user", []string{"-u", "nobody", "busybox", "id"}, "uid=65534(nobody)"},
		{"user:group numeric", []string{"-u", "1234:5678", "busybox", "id"}, "uid=1234 gid=5678"},
		{"workdir created", []string{"-w", "/made/for/you", "busybox", "pwd"}, "/made/for/you\n"},
		{"hostname", []string{"-h", "box1", "busybox", "hostname"}, "box1\n"},
		{"read-only root", []string{"--read-only", "busybox", "sh", "-c", "touch /x 2>&1; echo done"}, "Read-only file system"},
		{"tmpfs", []string{"--read-only", "--tmpfs", "/scratch", "busybox", "sh", "-c", "touch /scratch/x && echo ok"}, "ok\n"},
		{"shm size", []string{"--shm-size", "32m", "busybox", "df", "-k", "/dev/shm"}, "32768"},
		{"ulimit", []string{"--ulimit", "nofile=512:1024", "busybox", "sh", "-c", "ulimit -n"}, "512\n"},
		{"default caps", []string{"busybox", "grep", "CapEff", "/proc/self/status"}, "00000000a80425fb"},
		{"cap-drop all", []string{"--cap-drop", "ALL", "busybox", "grep", "CapEff", "/proc/self/status"}, "0000000000000000"},
		{"cap-add", []string{"--cap-add", "SYS_ADMIN", "busybox", "grep", "CapEff", "/proc/self/status"}, "00000000a82425fb"},
		{"seccomp default", []string{"busybox", "unshare", "-U", "true"}, "Operation not permitted"},
		{"seccomp unconfined", []string{"--security-opt", "seccomp=unconfined", "--cap-add", "SYS_ADMIN", "busybox", "sh", "-c", "unshare -m true && echo allowed"}, "allowed\n"},
		{"no-new-privileges", []string{"--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs", "/proc/self/status"}, "NoNewPrivs:\t1"},
		{"privileged", []string{"--privileged", "busybox", "sh", "-c", "mkdir /m && mount -t tmpfs t /m && echo mounted"}, "mounted\n"},
		{"memory limit", []string{"-m", "64m", "busybox", "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"}, "67108864\n"},
		// Docker's smallest limit: the container's init must fit in it before it execs.
		{"smallest memory limit", []string{"-m", "6m", "busybox", "sh", "-c", "echo fits"}, "fits\n"},
		{"pids limit", []string{"--pids-limit", "33", "busybox", "sh", "-c", "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"}, "33\n"},
		{"label", []string{"--label", "a=b", "busybox", "true"}, ""},
		{"init reaps", []string{"--init", "busybox", "sh", "-c", "ps -o pid,comm | head -2"}, "docker-init"},
		{"hosts and resolv", []string{"busybox", "sh", "-c", "grep -c localhost /etc/hosts; test -s /etc/resolv.conf && echo resolv"}, "resolv\n"},
		{"pid 1 is the program", []string{"busybox", "sh", "-c", "echo $$"}, "1\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := d.Docker(append([]string{"run", "--rm"}, c.args...)...)
			out := res.Stdout + res.Stderr
			if !strings.Contains(out, c.want) {
				t.Errorf("docker run %v: exit %d, output %q, want it to contain %q", c.args, res.Code, out, c.want)
			}
		})
	}
	// Labels and stop settings show in inspect as Docker shows them.
	d.MustDocker("create", "--name", "opts", "--label", "tier=web", "--stop-signal", "SIGINT", "--stop-timeout", "3", "busybox", "true")
	if got := inspect(d, "opts", `{{index .Config.Labels "tier"}} {{.Config.StopSignal}} {{.Config.StopTimeout}}`); got != "web SIGINT 3" {
		t.Errorf("inspect: %q", got)
	}
	d.MustDocker("rm", "opts")
	assertNothingLeft(t, d)
}

// exec's options: user, working directory, environment, privileges, TTY.
func TestExecOptions(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("run", "-d", "--name", "ex", "-e", "BASE=1", "busybox", "sleep", "600")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-u", "nobody", "ex", "id", "-u"}, "65534\n"},
		{[]string{"-w", "/tmp", "ex", "pwd"}, "/tmp\n"},
		{[]string{"-e", "MORE=2", "ex", "sh", "-c", "echo $BASE$MORE"}, "12\n"},
		{[]string{"--privileged", "ex", "sh", "-c", "grep CapEff /proc/self/status | grep -v 00000000a80425fb"}, "CapEff"},
	}
	for _, c := range cases {
		res := d.Docker(append([]string{"exec"}, c.args...)...)
		if !strings.Contains(res.Stdout, c.want) {
			t.Errorf("docker exec %v: exit %d, %q %q, want %q", c.args, res.Code, res.Stdout, res.Stderr, c.want)
		}
	}
	out, code := runInPTY(t, d.DockerCommand("exec", "-it", "ex", "sh", "-c", "tty; stty size"), "")
	if code != 0 || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "24 80") {
		t.Errorf("exec -it: exit %d, %q", code, out)
	}
	if res := d.Docker("exec", "-d", "ex", "sh", "-c", "echo detached > /tmp/d"); res.Code != 0 {
		t.Errorf("exec -d: %s", res.Stderr)
	}
	waitFor(t, func() bool { return d.Docker("exec", "ex", "cat", "/tmp/d").Stdout == "detached\n" })
	d.MustDocker("rm", "-f", "ex")
	assertNothingLeft(t, d)
}
