package runtimecli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/runc/types"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// Helpers shared by resources_test.go, hooks_test.go and console_test.go;
// every name starts with "res" so that other test files of the package can
// define their own without clashing.

var resSeq atomic.Int64

// resID is a container ID no other test, and no other run, uses.
func resID(name string) string {
	return fmt.Sprintf("res-%s-%d-%d", name, os.Getpid(), resSeq.Add(1))
}

// resDetached runs a gantry command that leaves a container process behind
// (create, run -d, exec -d). The container inherits gantry's stdio, so the
// output goes to files rather than pipes: with pipes, waiting for gantry
// would also wait for the container to close them.
func resDetached(t *testing.T, r *fixture.Runtime, args ...string) fixture.Result {
	t.Helper()
	dir := t.TempDir()
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd := r.Command(args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	code := 0
	if err := cmd.Run(); err != nil {
		if cmd.ProcessState == nil {
			t.Fatalf("gantry runtime %v: %v", args, err)
		}
		code = cmd.ProcessState.ExitCode()
	}
	out, _ := os.ReadFile(stdout.Name())
	errOut, _ := os.ReadFile(stderr.Name())
	return fixture.Result{Stdout: string(out), Stderr: string(errOut), Code: code}
}

// resMustDetached is resDetached for a command that must succeed.
func resMustDetached(t *testing.T, r *fixture.Runtime, args ...string) {
	t.Helper()
	if res := resDetached(t, r, args...); res.Code != 0 {
		t.Fatalf("gantry runtime %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.Code, res.Stdout, res.Stderr)
	}
}

// resStartContainer makes a bundle from spec, runs it detached, and deletes
// it (checking it left nothing behind) at the end of the test.
func resStartContainer(t *testing.T, r *fixture.Runtime, id string, spec *specs.Spec) string {
	t.Helper()
	bundle := fixture.Bundle(t, spec)
	t.Cleanup(func() {
		r.Run("delete", "--force", id)
		r.AssertClean(t, id, bundle)
	})
	resMustDetached(t, r, "run", "--detach", "--bundle", bundle, id)
	return bundle
}

// resWaitFor polls cond until it holds or the timeout passes.
func resWaitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// resStateOf is what `state` says.
type resStateOf struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"`
	Bundle string `json:"bundle"`
}

func resState(t *testing.T, r *fixture.Runtime, id string) resStateOf {
	t.Helper()
	var st resStateOf
	if err := json.Unmarshal([]byte(r.Must("state", id)), &st); err != nil {
		t.Fatalf("state %s: %v", id, err)
	}
	return st
}

// resEvent is one line of `events`: runc's Event with the data left raw.
type resEvent struct {
	Type string          `json:"type"`
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

// resStats is the data of `events --stats`.
func resStats(t *testing.T, r *fixture.Runtime, id string) *types.Stats {
	t.Helper()
	out := r.Must("events", "--stats", id)
	var ev resEvent
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("events --stats %s: not an event: %v\n%s", id, err, out)
	}
	if ev.Type != "stats" || ev.ID != id {
		t.Fatalf("events --stats %s: got type %q id %q, want stats for %s", id, ev.Type, ev.ID, id)
	}
	var st types.Stats
	if err := json.Unmarshal(ev.Data, &st); err != nil {
		t.Fatalf("events --stats %s: bad data: %v\n%s", id, err, out)
	}
	return &st
}

// resEventStream runs `events --interval` and delivers its events; the
// channel closes when the command ends. It is stopped at the end of the test.
func resEventStream(t *testing.T, r *fixture.Runtime, id string, interval time.Duration) <-chan resEvent {
	t.Helper()
	cmd := r.Command("events", "--interval", interval.String(), id)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan resEvent, 1024)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev resEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				ev = resEvent{Type: "unparsable: " + sc.Text()}
			}
			ch <- ev
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		for range ch { // what the test left unread, up to the end of the output
		}
		_ = cmd.Wait()
		if stderr.Len() > 0 {
			t.Logf("events %s stderr: %s", id, stderr.String())
		}
	})
	return ch
}

// resNextEvent returns the first event of the given type, skipping others.
// ok is false if the stream ended or the timeout passed first.
func resNextEvent(ch <-chan resEvent, typ string, timeout time.Duration, seen *[]string) (resEvent, bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case ev, open := <-ch:
			if !open {
				return resEvent{}, false
			}
			if seen != nil {
				*seen = append(*seen, ev.Type)
			}
			if ev.Type == typ {
				return ev, true
			}
		case <-timer.C:
			return resEvent{}, false
		}
	}
}

// resCgroupV2 tells a unified (cgroup v2 only) host from a v1 or hybrid one.
func resCgroupV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// resCgroupFile is a file of the container's cgroup (under /gantry-test, see
// fixture.Spec): v1File in the v1 controller's hierarchy, or v2File on a
// unified host.
func resCgroupFile(id, controller, v1File, v2File string) string {
	if resCgroupV2() {
		return filepath.Join("/sys/fs/cgroup/gantry-test", id, v2File)
	}
	return filepath.Join("/sys/fs/cgroup", controller, "gantry-test", id, v1File)
}

// resReadCgroupInt reads a one-number cgroup file; "max" reads as -1.
func resReadCgroupInt(t *testing.T, path string) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read cgroup file: %v", err)
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return -1
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%s: %q is not a number", path, s)
	}
	return n
}

// resKeyedValue reads "key value" lines (memory.events, pids.events,
// memory.oom_control) and returns the value of key, or -1 if absent.
func resKeyedValue(path, key string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && k == key {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// resMemorySpec is a spec whose memory limit is limit bytes, with no swap:
// memory+swap is set to the same value.
func resMemorySpec(id string, limit int64, args ...string) *specs.Spec {
	s := fixture.Spec(id, args...)
	lim, swap := limit, limit
	s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &lim, Swap: &swap}
	return s
}

// resMemoryLimitFile is the cgroup file holding the memory limit.
func resMemoryLimitFile(id string) string {
	return resCgroupFile(id, "memory", "memory.limit_in_bytes", "memory.max")
}

// resOOMKills is the kernel's count of OOM kills in the container's cgroup.
func resOOMKills(id string) int64 {
	if resCgroupV2() {
		return resKeyedValue(resCgroupFile(id, "memory", "", "memory.events"), "oom_kill")
	}
	return resKeyedValue(resCgroupFile(id, "memory", "memory.oom_control", ""), "oom_kill")
}

const (
	resMiB = 1 << 20
	// resAllocForever grows a string until the process is killed.
	resAllocForever = `BEGIN{s="x"; while(1) s = s s}`
)

// resAlloc32MiB makes busybox dd allocate and fill a 32 MiB buffer.
var resAlloc32MiB = []string{"dd", "if=/dev/zero", "of=/dev/null", "bs=32M", "count=1"}

// TestResourcesOOMRun: a container whose process allocates past its 16 MiB
// limit is killed by the OOM killer, and `run` exits 137 (128+SIGKILL).
func TestResourcesOOMRun(t *testing.T) {
	r := fixture.NewRuntime(t)
	id := resID("oom-run")
	bundle := fixture.Bundle(t, resMemorySpec(id, 16*resMiB, "awk", resAllocForever))
	res := r.Run("run", "--bundle", bundle, id)
	if res.Code != 137 {
		t.Fatalf("run of a process allocating past its memory limit: exit %d, want 137 (OOM-killed)\nstdout: %s\nstderr: %s", res.Code, res.Stdout, res.Stderr)
	}
	r.AssertClean(t, id, bundle)
}

// TestResourcesOOMEvents: `events` reports an OOM kill of a process exec'd
// into the container, `events --stats` shows the limit being hit, the
// container itself survives, and the stream ends with "exit" on delete.
func TestResourcesOOMEvents(t *testing.T) {
	r := fixture.NewRuntime(t)
	id := resID("oom-events")
	resStartContainer(t, r, id, resMemorySpec(id, 16*resMiB, "sleep", "600"))

	events := resEventStream(t, r, id, 100*time.Millisecond)
	var seen []string
	// A first stats event means the stream has registered for OOM events.
	if _, ok := resNextEvent(events, "stats", 10*time.Second, &seen); !ok {
		t.Fatalf("events: no stats event within 10s; got %v", seen)
	}
	if res := r.Run("exec", id, "awk", resAllocForever); res.Code != 137 {
		t.Fatalf("exec of a process allocating past the memory limit: exit %d, want 137 (OOM-killed)\nstdout: %s\nstderr: %s", res.Code, res.Stdout, res.Stderr)
	}
	ev, ok := resNextEvent(events, "oom", 10*time.Second, &seen)
	if !ok {
		t.Fatalf("events: no oom event within 10s of the OOM kill; got %v", seen)
	}
	if ev.ID != id {
		t.Errorf("oom event has id %q, want %q", ev.ID, id)
	}
	if n := resOOMKills(id); n == 0 {
		t.Errorf("the kernel counts no OOM kill in the container's cgroup")
	}

	st := resStats(t, r, id)
	if st.Memory.Usage.Limit != 16*resMiB {
		t.Errorf("events --stats: memory.usage.limit = %d, want %d", st.Memory.Usage.Limit, 16*resMiB)
	}
	// The limit was hit: a failure count where the kernel keeps one (v1
	// before 6.x kernels), or a peak usage at the limit (the max usage on
	// v1, memory.peak on v2).
	m := st.Memory
	switch {
	case m.Usage.Failcnt > 0 || m.Swap.Failcnt > 0:
	case m.Usage.Max >= 15*resMiB:
	case m.Usage.Max == 0 && resCgroupV2():
		t.Logf("events --stats: no failcnt nor peak usage on this host (memory.peak needs Linux 5.19)")
	default:
		t.Errorf("events --stats after an OOM kill at a 16 MiB limit: usage failcnt %d, swap failcnt %d, max usage %d: none shows the limit was hit",
			m.Usage.Failcnt, m.Swap.Failcnt, m.Usage.Max)
	}
	if got := resState(t, r, id).Status; got != "running" {
		t.Errorf("after the exec'd process was OOM-killed the container is %q, want running", got)
	}

	r.Must("delete", "--force", id)
	if _, ok := resNextEvent(events, "exit", 10*time.Second, &seen); !ok {
		t.Errorf("events: no exit event within 10s of delete; got %v", seen)
	}
}

// TestResourcesPidsLimit: a fork bomb in a container limited to 20 pids
// never has more than 20 processes, and its forks fail.
func TestResourcesPidsLimit(t *testing.T) {
	const limit = 20
	r := fixture.NewRuntime(t)
	id := resID("pids")
	spec := fixture.Spec(id, "sh", "-c",
		// The bomb runs in a child shell, which may give up at the first
		// fork that fails; the init then records the outcome and stays,
		// through exec since it may not be able to fork either.
		`sh -c 'i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); echo $i > /tmp/started; done' 2>/tmp/err; echo $? > /tmp/done; exec sleep 600`)
	spec.Root.Readonly = false // the shells write their progress to /tmp
	lim := int64(limit)
	spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: &lim}
	bundle := resStartContainer(t, r, id, spec)
	done := filepath.Join(bundle, "rootfs", "tmp", "done")

	maxSeen := 0
	check := func() {
		st := resStats(t, r, id)
		if st.Pids.Current > limit {
			t.Errorf("events --stats: pids.current = %d, over the limit of %d", st.Pids.Current, limit)
		}
		var pids []int
		if err := json.Unmarshal([]byte(r.Must("ps", "--format", "json", id)), &pids); err != nil {
			t.Fatalf("ps --format json: %v", err)
		}
		if len(pids) > limit {
			t.Errorf("ps lists %d processes, over the limit of %d", len(pids), limit)
		}
		maxSeen = max(maxSeen, int(st.Pids.Current), len(pids))
	}
	resWaitFor(t, 15*time.Second, "the fork bomb to finish", func() bool {
		check()
		_, err := os.Stat(done)
		return err == nil
	})
	check()

	st := resStats(t, r, id)
	if st.Pids.Limit != limit {
		t.Errorf("events --stats: pids.limit = %d, want %d", st.Pids.Limit, limit)
	}
	if got := resReadCgroupInt(t, resCgroupFile(id, "pids", "pids.max", "pids.max")); got != limit {
		t.Errorf("pids.max of the container's cgroup = %d, want %d", got, limit)
	}
	// The kernel counts the forks it refused.
	if n := resKeyedValue(resCgroupFile(id, "pids", "pids.events", "pids.events"), "max"); n == 0 {
		t.Errorf("pids.events says no fork hit the limit")
	}
	started, _ := os.ReadFile(filepath.Join(bundle, "rootfs", "tmp", "started"))
	errOut, _ := os.ReadFile(filepath.Join(bundle, "rootfs", "tmp", "err"))
	if n, _ := strconv.Atoi(strings.TrimSpace(string(started))); n >= limit {
		t.Errorf("the fork bomb started %d background processes, more than the limit of %d allows", n, limit)
	}
	if !strings.Contains(string(errOut), "fork") {
		t.Errorf("the fork bomb's shell reported no failed fork; stderr: %q", errOut)
	}
	if maxSeen < limit-2 {
		t.Errorf("at most %d processes seen: the fork bomb never came near the limit of %d", maxSeen, limit)
	}
	t.Logf("started %s background processes; at most %d processes seen; shell said %q",
		strings.TrimSpace(string(started)), maxSeen, strings.TrimSpace(string(errOut)))
}

// TestResourcesCPUQuota: a busy loop under a quota of half a CPU uses half a
// CPU, as `events --stats` reports it.
func TestResourcesCPUQuota(t *testing.T) {
	r := fixture.NewRuntime(t)
	id := resID("cpu")
	spec := fixture.Spec(id, "sh", "-c", "while :; do :; done")
	quota, period := int64(50000), uint64(100000)
	spec.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	resStartContainer(t, r, id, spec)

	if resCgroupV2() {
		data, _ := os.ReadFile(resCgroupFile(id, "cpu", "", "cpu.max"))
		if got := strings.TrimSpace(string(data)); got != "50000 100000" {
			t.Errorf("cpu.max = %q, want \"50000 100000\"", got)
		}
	} else {
		if got := resReadCgroupInt(t, resCgroupFile(id, "cpu", "cpu.cfs_quota_us", "")); got != 50000 {
			t.Errorf("cpu.cfs_quota_us = %d, want 50000", got)
		}
		if got := resReadCgroupInt(t, resCgroupFile(id, "cpu", "cpu.cfs_period_us", "")); got != 100000 {
			t.Errorf("cpu.cfs_period_us = %d, want 100000", got)
		}
	}

	resWaitFor(t, 5*time.Second, "the busy loop to use CPU", func() bool {
		return resStats(t, r, id).CPU.Usage.Total > 50*uint64(time.Millisecond)
	})
	// sample is the usage and the moment it was read, taken as the middle
	// of the command.
	sample := func() (uint64, time.Time) {
		before := time.Now()
		st := resStats(t, r, id)
		after := time.Now()
		return st.CPU.Usage.Total, before.Add(after.Sub(before) / 2)
	}
	const want, tolerance = 0.5, 0.15
	var ratios, idles []float64
	// A loaded machine can only slow the loop down: measure again rather
	// than fail when it got less than its quota, but never accept more. A
	// shortfall counts only when the machine had the CPU to spare: then it
	// was the quota that held the loop back (make test runs the daemon's
	// tests alongside, which can take both of CI's cores).
	short := false
	for attempt := 0; attempt < 3; attempt++ {
		u0, t0 := sample()
		i0 := resIdleCPUTime(t)
		time.Sleep(2 * time.Second)
		i1 := resIdleCPUTime(t)
		u1, t1 := sample()
		elapsed := float64(t1.Sub(t0).Nanoseconds())
		ratio := float64(u1-u0) / elapsed
		idle := float64(i1-i0) / elapsed
		ratios, idles = append(ratios, ratio), append(idles, idle)
		if ratio > want*(1+tolerance) {
			t.Fatalf("a busy loop under a quota of 50000/100000 used %.3f CPUs (want %.2f ± %.0f%%)", ratio, want, tolerance*100)
		}
		if ratio >= want*(1-tolerance) {
			short = false
			break
		}
		short = short || idle >= want-ratio
	}
	if last := ratios[len(ratios)-1]; last < want*(1-tolerance) {
		if short {
			t.Fatalf("a busy loop under a quota of 50000/100000 used %.3f CPUs (want %.2f ± %.0f%%) while the machine had CPU to spare; samples %.3f, idle CPUs %.3f", last, want, tolerance*100, ratios, idles)
		}
		t.Logf("the machine was busy throughout: the loop got %.3f CPUs with %.3f idle; only the upper bound and throttling are checked", ratios, idles)
	}
	if th := resStats(t, r, id).CPU.Throttling; th.ThrottledPeriods == 0 {
		t.Errorf("events --stats: cpu.throttling.throttledPeriods = 0 for a busy loop over its quota")
	}
	t.Logf("CPU use %.3f", ratios)
}

// TestResourcesPauseResume: pause freezes the container's processes, state
// says so, and resume lets them run again.
func TestResourcesPauseResume(t *testing.T) {
	r := fixture.NewRuntime(t)
	id := resID("pause")
	// The counter is written then renamed so that the host never reads a
	// half-written file.
	spec := fixture.Spec(id, "sh", "-c", `i=0; while :; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/c; usleep 50000; done`)
	spec.Root.Readonly = false // fixture.Spec's root is read-only
	bundle := resStartContainer(t, r, id, spec)
	counterFile := filepath.Join(bundle, "rootfs", "tmp", "c")
	counter := func() int {
		data, err := os.ReadFile(counterFile)
		if err != nil {
			return -1
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil {
			t.Fatalf("counter file holds %q", data)
		}
		return n
	}
	resWaitFor(t, 10*time.Second, "the counter to reach 3", func() bool { return counter() >= 3 })

	r.Must("pause", id)
	if got := resState(t, r, id).Status; got != "paused" {
		t.Fatalf("after pause, state says %q, want paused", got)
	}
	freezer := resCgroupFile(id, "freezer", "freezer.state", "cgroup.freeze")
	if data, err := os.ReadFile(freezer); err != nil {
		t.Errorf("read %s: %v", freezer, err)
	} else if got := strings.TrimSpace(string(data)); got != "FROZEN" && got != "1" {
		t.Errorf("%s = %q after pause, want FROZEN (v1) or 1 (v2)", freezer, got)
	}
	frozen := counter()
	time.Sleep(500 * time.Millisecond)
	if got := counter(); got != frozen {
		t.Fatalf("the counter went from %d to %d while the container was paused", frozen, got)
	}

	r.Must("resume", id)
	if got := resState(t, r, id).Status; got != "running" {
		t.Errorf("after resume, state says %q, want running", got)
	}
	resWaitFor(t, 5*time.Second, "the counter to grow after resume", func() bool { return counter() > frozen+2 })
}

// TestResourcesUpdate: `update` lowers a running container's memory limit,
// which then kills an allocation the old limit allowed; `update -r -` takes
// resources as JSON on standard input.
func TestResourcesUpdate(t *testing.T) {
	r := fixture.NewRuntime(t)
	id := resID("update")
	resStartContainer(t, r, id, resMemorySpec(id, 64*resMiB, "sleep", "600"))
	limitFile := resMemoryLimitFile(id)

	if got := resReadCgroupInt(t, limitFile); got != 64*resMiB {
		t.Fatalf("%s = %d, want %d", limitFile, got, 64*resMiB)
	}
	exec := append([]string{"exec", id}, resAlloc32MiB...)
	if res := r.Run(exec...); res.Code != 0 {
		t.Fatalf("allocating 32 MiB under a 64 MiB limit: exit %d, want 0\nstdout: %s\nstderr: %s", res.Code, res.Stdout, res.Stderr)
	}

	r.Must("update", "--memory", "16m", "--memory-swap", "16m", id)
	if got := resReadCgroupInt(t, limitFile); got != 16*resMiB {
		t.Errorf("after update --memory 16m, %s = %d, want %d", limitFile, got, 16*resMiB)
	}
	if got := resStats(t, r, id).Memory.Usage.Limit; got != 16*resMiB {
		t.Errorf("after update --memory 16m, events --stats says memory.usage.limit = %d, want %d", got, 16*resMiB)
	}
	if res := r.Run(exec...); res.Code != 137 {
		t.Errorf("allocating 32 MiB after update --memory 16m: exit %d, want 137 (OOM-killed)\nstdout: %s\nstderr: %s", res.Code, res.Stdout, res.Stderr)
	}

	pidsFile := resCgroupFile(id, "pids", "pids.max", "pids.max")
	if res := r.RunIn(strings.NewReader(`{"pids": {"limit": 42}}`), "update", "-r", "-", id); res.Code != 0 {
		t.Fatalf("update -r - with a pids limit: exit %d\nstdout: %s\nstderr: %s", res.Code, res.Stdout, res.Stderr)
	}
	if got := resReadCgroupInt(t, pidsFile); got != 42 {
		t.Errorf("after update -r - {pids: {limit: 42}}, %s = %d, want 42", pidsFile, got)
	}
	st := resStats(t, r, id)
	if st.Pids.Limit != 42 {
		t.Errorf("after update -r -, events --stats says pids.limit = %d, want 42", st.Pids.Limit)
	}
	// Resources the JSON does not name keep their value.
	if got := resReadCgroupInt(t, limitFile); got != 16*resMiB {
		t.Errorf("update -r - with only a pids limit changed the memory limit to %d, want it kept at %d", got, 16*resMiB)
	}
	if got := resState(t, r, id).Status; got != "running" {
		t.Errorf("after the updates the container is %q, want running", got)
	}
}

// resIdleCPUTime is the machine's idle and iowait time so far, summed over
// its CPUs, from /proc/stat.
func resIdleCPUTime(t *testing.T) time.Duration {
	t.Helper()
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait ...
	if len(f) < 6 || f[0] != "cpu" {
		t.Fatalf("/proc/stat starts with %q", line)
	}
	var ticks int64
	for _, s := range f[4:6] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("/proc/stat: %v", err)
		}
		ticks += n
	}
	const userHz = 100 // USER_HZ, fixed at 100 on Linux
	return time.Duration(ticks) * time.Second / userHz
}
