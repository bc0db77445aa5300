package daemon_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// Operations driven by the real docker CLI: limits in real cgroups, the
// OOM killer, live updates, restart policies across daemon restarts, and
// health checks.

// cgroupV2 tells whether the host has the unified hierarchy only.
func cgroupV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// cgroupFile is a container's cgroup file: v1 names a controller
// (cpuacct, memory, ...), v2 has one directory.
func cgroupFile(d *fixture.Daemon, id, v1Controller, name string) string {
	if cgroupV2() {
		return filepath.Join("/sys/fs/cgroup", d.CgroupParent(), id, name)
	}
	return filepath.Join("/sys/fs/cgroup", v1Controller, d.CgroupParent(), id, name)
}

func readCgroupUint(t *testing.T, path, key string) uint64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if key == "" {
		v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
		if err != nil {
			t.Fatalf("%s: %q", path, data)
		}
		return v
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == key {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
	}
	t.Fatalf("%s has no %s", path, key)
	return 0
}

// cpuUsage is the cgroup's CPU time (ns) and throttled periods.
func cpuUsage(t *testing.T, d *fixture.Daemon, id string) (usage, throttled uint64) {
	if cgroupV2() {
		stat := cgroupFile(d, id, "", "cpu.stat")
		return readCgroupUint(t, stat, "usage_usec") * 1000, readCgroupUint(t, stat, "nr_throttled")
	}
	return readCgroupUint(t, cgroupFile(d, id, "cpuacct", "cpuacct.usage"), ""),
		readCgroupUint(t, cgroupFile(d, id, "cpu", "cpu.stat"), "nr_throttled")
}

func TestOpsLimits(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()

	t.Run("oom", func(t *testing.T) {
		res := d.Docker("run", "--name", "oom", "-m", "8m", "busybox", "sh", "-c", `x=a; while :; do x="$x$x"; done`)
		if res.Code != 137 {
			t.Errorf("run past --memory: exit %d, want 137 (%s)", res.Code, res.Stderr)
		}
		if got := inspect(d, "oom", "{{.State.OOMKilled}} {{.State.ExitCode}} {{.HostConfig.Memory}}"); got != "true 137 8388608" {
			t.Errorf("inspect after the OOM kill: %q, want \"true 137 8388608\"", got)
		}
		d.MustDocker("rm", "oom")
	})

	t.Run("cpus", func(t *testing.T) {
		id := strings.TrimSpace(d.MustDocker("run", "-d", "--cpus", "0.5", "busybox", "sh", "-c", "while :; do :; done"))
		if got := inspect(d, id, "{{.HostConfig.NanoCpus}}"); got != "500000000" {
			t.Errorf("NanoCpus %s", got)
		}
		time.Sleep(300 * time.Millisecond)
		u0, th0 := cpuUsage(t, d, id)
		t0 := time.Now()
		time.Sleep(2 * time.Second)
		u1, th1 := cpuUsage(t, d, id)
		cpus := float64(u1-u0) / float64(time.Since(t0).Nanoseconds())
		t.Logf("busy loop under --cpus 0.5: %.3f CPU, %d throttled periods", cpus, th1-th0)
		if cpus > 0.575 {
			t.Errorf("busy loop under --cpus 0.5 used %.3f CPU, want at most 0.575", cpus)
		}
		// Below the band only counts when the quota is what held it down
		// (throttled in most periods), not a host busy with other work.
		if cpus < 0.425 && th1-th0 >= 15 {
			t.Errorf("busy loop under --cpus 0.5 used %.3f CPU while throttled, want 0.5 ± 15%%", cpus)
		}
		// The quota is the cgroup's, whatever the host's load.
		if cgroupV2() {
			if q, _ := os.ReadFile(cgroupFile(d, id, "", "cpu.max")); strings.TrimSpace(string(q)) != "50000 100000" {
				t.Errorf("cpu.max %q, want \"50000 100000\"", q)
			}
		} else if q := readCgroupUint(t, cgroupFile(d, id, "cpu", "cpu.cfs_quota_us"), ""); q != 50000 {
			t.Errorf("cpu.cfs_quota_us %d, want 50000", q)
		}
		if th1-th0 == 0 {
			t.Logf("the host is too busy for the loop to reach its quota: only the upper bound is checked")
		}
		d.MustDocker("rm", "-f", id)
	})

	t.Run("update", func(t *testing.T) {
		id := strings.TrimSpace(d.MustDocker("run", "-d", "--memory", "32m", "--cpus", "1", "busybox", "sleep", "60"))
		d.MustDocker("update", "--memory", "64m", "--memory-swap", "128m", "--pids-limit", "50", id)
		limitFile, v1Key := "memory.max", ""
		if !cgroupV2() {
			limitFile = "memory.limit_in_bytes"
		}
		if got := readCgroupUint(t, cgroupFile(d, id, "memory", limitFile), v1Key); got != 64<<20 {
			t.Errorf("memory limit in the cgroup after update: %d, want %d", got, 64<<20)
		}
		if got := readCgroupUint(t, cgroupFile(d, id, "pids", "pids.max"), ""); got != 50 {
			t.Errorf("pids.max after update: %d", got)
		}
		if got := inspect(d, id, "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}}"); got != "67108864 134217728 50" {
			t.Errorf("inspect after update: %s", got)
		}
		// Refused: nothing changes.
		res := d.Docker("update", "--cpus", strconv.Itoa(goruntime.NumCPU()+1), id)
		want := fmt.Sprintf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", goruntime.NumCPU(), goruntime.NumCPU())
		if res.Code != 1 || !strings.Contains(res.Stderr, want) {
			t.Errorf("update --cpus above the host: exit %d %q", res.Code, res.Stderr)
		}
		res = d.Docker("update", "--memory", "256m", id)
		if res.Code != 1 || !strings.Contains(res.Stderr, "Memory limit should be smaller than already set memoryswap limit") {
			t.Errorf("update --memory above the swap limit: exit %d %q", res.Code, res.Stderr)
		}
		if got := inspect(d, id, "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}"); got != "1000000000 67108864" {
			t.Errorf("a refused update changed the record: %s", got)
		}
		res = d.Docker("update", "--memory", "64m", "nosuch")
		if res.Code != 1 || strings.TrimSpace(res.Stderr) != "Error response from daemon: No such container: nosuch" {
			t.Errorf("update of a missing container: exit %d %q", res.Code, res.Stderr)
		}
		d.MustDocker("rm", "-f", id)
	})

	t.Run("bad input", func(t *testing.T) {
		n := goruntime.NumCPU()
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--cpus", strconv.Itoa(n + 1)}, fmt.Sprintf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n)},
			{[]string{"--memory", "3"}, "Minimum memory limit allowed is 6MB"},
			{[]string{"--memory-reservation", "3"}, "Minimum memory reservation allowed is 6MB"},
			{[]string{"--restart", "on-failure:x"}, "invalid restart policy format: maximum retry count must be an integer"},
			{[]string{"--restart", "on-unhealthy"}, "--restart on-unhealthy needs a health check"},
			{[]string{"--gpus", "all"}, `could not select device driver "" with capabilities: [[gpu]]`},
			{[]string{"--cpu-period", "100"}, "CPU cfs period can not be less than 1ms"},
			{[]string{"--blkio-weight", "5"}, "Range of blkio weight is from 10 to 1000"},
			{[]string{"--cpuset-cpus", strconv.Itoa(n + 3)}, "Requested CPUs are not available"},
			{[]string{"--device", "/etc/passwd"}, "not a device node"},
		} {
			args := append(append([]string{"run", "--rm"}, c.args...), "busybox", "true")
			if c.args[0] == "--restart" {
				args = append(append([]string{"run"}, c.args...), "busybox", "true")
			}
			res := d.Docker(args...)
			if res.Code != 125 || !strings.Contains(res.Stderr, c.want) {
				t.Errorf("docker run %v: exit %d %q, want 125 and %q", c.args, res.Code, res.Stderr, c.want)
			}
		}
		// gantry's own CLI refuses --kernel-memory before any request.
		res := d.Gantry("run", "--rm", "--kernel-memory", "10m", "busybox", "true")
		if res.Code != 125 || !strings.Contains(res.Stderr, "--kernel-memory is not supported") {
			t.Errorf("gantry run --kernel-memory: exit %d %q", res.Code, res.Stderr)
		}
		if ids := strings.TrimSpace(d.MustDocker("ps", "-aq")); ids != "" {
			t.Errorf("refused runs left containers: %s", ids)
		}
		// --cpus 0 is no limit, as with Docker.
		d.MustDocker("run", "--rm", "--cpus", "0", "busybox", "true")
	})
}

func TestOpsRestartPolicies(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	count := func(name string) int {
		n, _ := strconv.Atoi(inspect(d, name, "{{.RestartCount}}"))
		return n
	}
	d.MustDocker("run", "-d", "--name", "crash", "--restart", "always", "busybox", "sh", "-c", "sleep 0.5; exit 3")
	d.MustDocker("run", "-d", "--name", "fail2", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 1")
	d.MustDocker("run", "-d", "--name", "ok", "--restart", "on-failure", "busybox", "true")
	d.MustDocker("run", "-d", "--name", "unless", "--restart", "unless-stopped", "busybox", "sleep", "60")
	d.MustDocker("run", "-d", "--name", "always", "--restart", "always", "busybox", "sleep", "60")

	waitFor(t, func() bool { return count("crash") >= 2 })
	if st := inspect(d, "crash", "{{.State.Status}}"); st != "running" && st != "restarting" {
		t.Errorf("crash-looping container: %s", st)
	}
	// ps shows a container in its back-off as Docker does.
	sawRestarting := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !sawRestarting; time.Sleep(20 * time.Millisecond) {
		sawRestarting = strings.HasPrefix(strings.TrimSpace(d.MustDocker("ps", "--filter", "name=crash", "--format", "{{.Status}}")), "Restarting (3)")
	}
	if !sawRestarting {
		t.Errorf("ps never showed the crash-looping container as Restarting (3)")
	}
	waitFor(t, func() bool { return inspect(d, "fail2", "{{.State.Status}}") == "exited" && count("fail2") == 2 })
	time.Sleep(500 * time.Millisecond)
	if got := inspect(d, "fail2", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}"); got != "exited 2 1" {
		t.Errorf("on-failure:2 after its retries: %s, want exited 2 1", got)
	}
	if got := inspect(d, "ok", "{{.State.Status}} {{.RestartCount}}"); got != "exited 0" {
		t.Errorf("on-failure after a clean exit: %s", got)
	}

	// A manual stop is not restarted.
	d.MustDocker("stop", "-t", "0", "unless")
	d.MustDocker("stop", "-t", "0", "always")
	time.Sleep(400 * time.Millisecond)
	for _, n := range []string{"unless", "always"} {
		if st := inspect(d, n, "{{.State.Status}}"); st != "exited" {
			t.Errorf("%s after docker stop: %s", n, st)
		}
	}

	// Across a daemon restart: the crash-looping container exits while no
	// daemon runs and is started when it is back; `always` comes back
	// after a manual stop, `unless-stopped` does not.
	before := count("crash")
	d.Stop()
	time.Sleep(1500 * time.Millisecond)
	d.Start()
	waitFor(t, func() bool { return count("crash") > before })
	waitFor(t, func() bool { return inspect(d, "always", "{{.State.Status}}") == "running" })
	if st := inspect(d, "unless", "{{.State.Status}}"); st != "exited" {
		t.Errorf("unless-stopped after a manual stop and a daemon restart: %s", st)
	}
	// A stop during the back-off ends the loop.
	d.MustDocker("stop", "-t", "0", "crash")
	time.Sleep(800 * time.Millisecond)
	if st := inspect(d, "crash", "{{.State.Status}}"); st != "exited" {
		t.Errorf("crash after stop: %s", st)
	}
}

func TestOpsHealth(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	since := strconv.FormatInt(time.Now().Unix(), 10)
	d.MustDocker("run", "-d", "--name", "hc", "--health-cmd", "cat /tmp/ok", "--health-interval", "100ms", "--health-retries", "2",
		"busybox", "sh", "-c", "sleep 0.6; echo fine > /tmp/ok; sleep 1.5; rm /tmp/ok; sleep 60")
	status := func() string { return inspect(d, "hc", "{{.State.Health.Status}}") }
	if st := status(); st != "starting" && st != "unhealthy" {
		t.Errorf("health just after the start: %s", st)
	}
	waitFor(t, func() bool { return status() == "healthy" })
	if ps := d.MustDocker("ps", "--format", "{{.Status}}"); !strings.Contains(ps, "(healthy)") {
		t.Errorf("ps of a healthy container: %q", ps)
	}
	if out := inspect(d, "hc", "{{range .State.Health.Log}}{{.ExitCode}}:{{.Output}}{{end}}"); !strings.Contains(out, "0:fine") {
		t.Errorf("the probes' log has no success with the probe's output: %q", out)
	}
	waitFor(t, func() bool { return status() == "unhealthy" })
	got := inspect(d, "hc", "{{.State.Health.FailingStreak}} {{len .State.Health.Log}}")
	var streak, logLen int
	fmt.Sscan(got, &streak, &logLen)
	if streak < 2 || logLen < 1 || logLen > 5 {
		t.Errorf("unhealthy: failing streak and log length %q", got)
	}
	if ps := d.MustDocker("ps", "--format", "{{.Status}}"); !strings.Contains(ps, "(unhealthy)") {
		t.Errorf("ps of an unhealthy container: %q", ps)
	}
	ev := d.MustDocker("events", "--since", since, "--until", strconv.FormatInt(time.Now().Unix()+1, 10), "--filter", "container=hc", "--format", "{{.Action}}")
	if !strings.Contains(ev, "health_status: healthy") || !strings.Contains(ev, "health_status: unhealthy") {
		t.Errorf("events: %q", ev)
	}

	// An image-less override: --no-healthcheck leaves no health state.
	d.MustDocker("run", "-d", "--name", "none", "--no-healthcheck", "busybox", "sleep", "60")
	if got := inspect(d, "none", "{{.State.Health}}"); got != "<nil>" {
		t.Errorf("--no-healthcheck: health %s", got)
	}

	// --restart on-unhealthy: restarted when the check fails.
	d.MustDocker("run", "-d", "--name", "sick", "--restart", "on-unhealthy", "--stop-timeout", "0",
		"--health-cmd", "test ! -f /tmp/sick", "--health-interval", "100ms", "--health-retries", "1",
		"busybox", "sh", "-c", "sleep 0.5; touch /tmp/sick; sleep 60")
	waitFor(t, func() bool { n, _ := strconv.Atoi(inspect(d, "sick", "{{.RestartCount}}")); return n >= 1 })
}
