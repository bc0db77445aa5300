package runtimecli_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/fixture"
	"github.com/gantry-dev/gantry/internal/runtime"
)

// Helpers shared by isolation_test.go and security_test.go; all start with
// "sec" so they cannot collide with the other test files of the package.

// secTimeout bounds every gantry command: a hung container fails its test
// instead of the whole run.
const secTimeout = 30 * time.Second

var secSeq atomic.Int64

// secID returns a container ID unique in this test process and among
// concurrent test processes.
func secID(t testing.TB) string {
	t.Helper()
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, strings.TrimPrefix(t.Name(), "Test"))
	name = strings.ToLower(name)
	if len(name) > 32 {
		name = name[:32]
	}
	return fmt.Sprintf("sec-%s-%d-%d", name, os.Getpid(), secSeq.Add(1))
}

// secCmd runs cmd, killing it after timeout, and returns what it printed.
// Output already redirected by the caller is left alone.
func secCmd(t testing.TB, timeout time.Duration, cmd *exec.Cmd) fixture.Result {
	t.Helper()
	var out, errb bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &errb
	}
	// A container that inherited our pipes must not keep Wait forever.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	var expired atomic.Bool
	timer := time.AfterFunc(timeout, func() {
		expired.Store(true)
		_ = cmd.Process.Kill()
	})
	err := cmd.Wait()
	timer.Stop()
	if expired.Load() {
		t.Fatalf("%v still running after %v\nstdout: %s\nstderr: %s", cmd.Args, timeout, out.String(), errb.String())
	}
	res := fixture.Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	case errors.Is(err, exec.ErrWaitDelay):
		t.Logf("%v: output still held open after exit", cmd.Args)
		res.Code = cmd.ProcessState.ExitCode()
	default:
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return res
}

// secRt runs `gantry runtime --root R args...` with a deadline.
func secRt(t testing.TB, r *fixture.Runtime, args ...string) fixture.Result {
	t.Helper()
	return secCmd(t, secTimeout, r.Command(args...))
}

// secMust is secRt for a command that must succeed; it returns stdout.
func secMust(t testing.TB, r *fixture.Runtime, args ...string) string {
	t.Helper()
	res := secRt(t, r, args...)
	if res.Code != 0 {
		t.Fatalf("gantry runtime %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.Code, res.Stdout, res.Stderr)
	}
	return res.Stdout
}

// secRunBundle runs the bundle's container in the foreground (`run`) and
// returns what its program printed and its exit status.
func secRunBundle(t testing.TB, r *fixture.Runtime, id, bundle string) fixture.Result {
	t.Helper()
	return secRt(t, r, "run", "--bundle", bundle, id)
}

// secRunSpec makes a bundle from spec and runs it in the foreground.
func secRunSpec(t testing.TB, r *fixture.Runtime, id string, spec *specs.Spec) (fixture.Result, string) {
	t.Helper()
	b := fixture.Bundle(t, spec)
	return secRunBundle(t, r, id, b), b
}

// secMustRun is secRunSpec for a container that must exit 0; it returns its
// standard output.
func secMustRun(t testing.TB, r *fixture.Runtime, id string, spec *specs.Spec) string {
	t.Helper()
	res, _ := secRunSpec(t, r, id, spec)
	if res.Code != 0 {
		t.Fatalf("container %s exited %d\nstdout: %s\nstderr: %s", id, res.Code, res.Stdout, res.Stderr)
	}
	return res.Stdout
}

// secCtr is a container running in the background.
type secCtr struct {
	ID, Bundle string
	Pid        int    // host pid of its init
	Out        string // file holding the container's stdout and stderr
}

// secStart runs the bundle's container detached, its stdio going to a file
// (a pipe would be held open by the container), and waits until it runs.
func secStart(t testing.TB, r *fixture.Runtime, id, bundle string) secCtr {
	t.Helper()
	out := filepath.Join(t.TempDir(), "container-output")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := r.Command("run", "--detach", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = f, f
	if res := secCmd(t, secTimeout, cmd); res.Code != 0 {
		data, _ := os.ReadFile(out)
		t.Fatalf("run -d %s: exit %d: %s", id, res.Code, data)
	}
	st := secWaitStatus(t, r, id, "running")
	return secCtr{ID: id, Bundle: bundle, Pid: st.Pid, Out: out}
}

// secStartSpec makes a bundle from spec and starts it detached.
func secStartSpec(t testing.TB, r *fixture.Runtime, id string, spec *specs.Spec) secCtr {
	t.Helper()
	return secStart(t, r, id, fixture.Bundle(t, spec))
}

func secState(t testing.TB, r *fixture.Runtime, id string) runtime.State {
	t.Helper()
	var st runtime.State
	out := secMust(t, r, "state", id)
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("state %s: %v: %q", id, err, out)
	}
	return st
}

func secWaitStatus(t testing.TB, r *fixture.Runtime, id, want string) runtime.State {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := secState(t, r, id)
		if st.Status == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s is %s, want %s", id, st.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// secWaitFile polls path until it contains substr and returns its content.
func secWaitFile(t testing.TB, path, substr string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), substr) {
			return string(data)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not contain %q after %v; it holds:\n%s", path, substr, timeout, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// secPids is `ps --format json`: the host pids in the container's cgroup.
func secPids(t testing.TB, r *fixture.Runtime, id string) []int {
	t.Helper()
	var pids []int
	out := secMust(t, r, "ps", "--format", "json", id)
	if err := json.Unmarshal([]byte(out), &pids); err != nil {
		t.Fatalf("ps --format json %s: %v: %q", id, err, out)
	}
	return pids
}

// secCapMask is the kernel's bitmask for a list of capability names.
func secCapMask(t testing.TB, names []string) uint64 {
	t.Helper()
	byName := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		byName["CAP_"+strings.ToUpper(c.String())] = c
	}
	var mask uint64
	for _, n := range names {
		c, ok := byName[strings.ToUpper(n)]
		if !ok {
			t.Fatalf("unknown capability %q", n)
		}
		mask |= 1 << uint(c)
	}
	return mask
}

// secStatusField reads a hexadecimal field such as CapEff from the text of
// /proc/PID/status.
func secStatusField(t testing.TB, status, field string) uint64 {
	t.Helper()
	for line := range strings.SplitSeq(status, "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in status:\n%s", field, status)
	return 0
}

func secWithout(list []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == drop })
}

func secWith(list []string, add string) []string {
	if slices.Contains(list, add) {
		return slices.Clone(list)
	}
	return append(slices.Clone(list), add)
}

// secSetCaps gives the process the same set as bounding, effective and
// permitted capabilities.
func secSetCaps(spec *specs.Spec, caps []string) {
	spec.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding:  slices.Clone(caps),
		Effective: slices.Clone(caps),
		Permitted: slices.Clone(caps),
	}
}

func secReadlink(t testing.TB, path string) string {
	t.Helper()
	target, err := os.Readlink(path)
	if err != nil {
		t.Fatal(err)
	}
	return target
}

func TestIsolationPID1IsTheProgram(t *testing.T) {
	r := fixture.NewRuntime(t)
	id := secID(t)
	// The trailing echo keeps sh from exec'ing cat in its place.
	args := []string{"sh", "-c", `echo $$; cat /proc/1/cmdline; echo`}
	out := secMustRun(t, r, id, fixture.Spec(id, args...))
	want := "1\n" + strings.Join(args, "\x00") + "\x00\n"
	if out != want {
		t.Errorf("pid and /proc/1/cmdline inside: %q, want %q", out, want)
	}

	// Without a shell the program itself is pid 1.
	id = secID(t)
	if out := secMustRun(t, r, id, fixture.Spec(id, "cat", "/proc/1/cmdline")); out != "cat\x00/proc/1/cmdline\x00" {
		t.Errorf("/proc/1/cmdline of `cat /proc/1/cmdline`: %q", out)
	}
}

func TestIsolationHostname(t *testing.T) {
	r := fixture.NewRuntime(t)
	hostBefore, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	id := secID(t)
	spec := fixture.Spec(id, "sh", "-c", "hostname; cat /proc/sys/kernel/hostname")
	spec.Hostname = "sec-uts-name"
	if out := secMustRun(t, r, id, spec); out != "sec-uts-name\nsec-uts-name\n" {
		t.Errorf("hostname inside: %q, want the spec's sec-uts-name twice", out)
	}
	if hostAfter, _ := os.Hostname(); hostAfter != hostBefore {
		t.Errorf("the host's hostname changed from %q to %q", hostBefore, hostAfter)
	}
}

func TestIsolationHostProcessesAndMountsInvisible(t *testing.T) {
	r := fixture.NewRuntime(t)

	// A host process with an argument no one else uses.
	marker := fmt.Sprintf("%d.%06d", 1000+os.Getpid()%1000, time.Now().Nanosecond()/1000)
	sleeper := exec.Command("sleep", marker)
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })

	// A host mount made by the test, before the container exists: the
	// container's mount namespace starts as a copy of the host's, so only
	// pivot_root and the unmount of the old root hide it.
	mnt := t.TempDir()
	source := "sec-host-mount-" + strconv.Itoa(os.Getpid())
	if err := unix.Mount(source, mnt, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", mnt, err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	if hostMounts, _ := os.ReadFile("/proc/self/mounts"); !strings.Contains(string(hostMounts), source) {
		t.Fatalf("the test's own mount %s is not in the host's /proc/self/mounts", source)
	}

	id := secID(t)
	spec := fixture.Spec(id, "sh", "-c", `ps; echo ---; ls -d /proc/[0-9]*; echo ---; cat /proc/mounts`)
	out := secMustRun(t, r, id, spec)
	parts := strings.Split(out, "---\n")
	if len(parts) != 3 {
		t.Fatalf("unexpected output:\n%s", out)
	}
	ps, procs, mounts := parts[0], strings.Fields(parts[1]), parts[2]

	if strings.Contains(ps, marker) || strings.Contains(ps, "sleep") {
		t.Errorf("the host's `sleep %s` (pid %d) is visible inside:\n%s", marker, sleeper.Process.Pid, ps)
	}
	// sh, ps (and ls) are all there is: no host process appears.
	psLines := strings.Split(strings.TrimSpace(ps), "\n")[1:]
	if len(psLines) > 3 {
		t.Errorf("ps inside lists %d processes, want only the container's sh and ps:\n%s", len(psLines), ps)
	}
	if len(procs) > 3 || !slices.Contains(procs, "/proc/1") {
		t.Errorf("/proc inside has pids %v, want /proc/1 and at most the sh's two children", procs)
	}
	for _, p := range procs {
		if n, _ := strconv.Atoi(strings.TrimPrefix(p, "/proc/")); n > 10 {
			t.Errorf("pid %s inside: the container's pid namespace numbers from 1", p)
		}
	}

	if strings.Contains(mounts, source) || strings.Contains(mounts, mnt) {
		t.Errorf("the host's mount of %s on %s is visible inside:\n%s", source, mnt, mounts)
	}
	// Every mount inside is the root or one the spec asked for.
	allowed := slices.Concat(spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths)
	for _, m := range spec.Mounts {
		allowed = append(allowed, m.Destination)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Errorf("odd /proc/mounts line %q", line)
			continue
		}
		ok := f[1] == "/" || slices.ContainsFunc(allowed, func(a string) bool {
			return f[1] == a || strings.HasPrefix(f[1], a+"/")
		})
		if !ok {
			t.Errorf("mount %q inside is neither the root nor one of the spec's", line)
		}
	}
}

func TestIsolationCapabilities(t *testing.T) {
	r := fixture.NewRuntime(t)
	base := fixture.Spec("x", "true").Process.Capabilities.Effective
	cases := []struct {
		name string
		caps []string
	}{
		{"default", base},
		{"add-sys-admin", secWith(base, "CAP_SYS_ADMIN")},
		{"drop-kill", secWithout(base, "CAP_KILL")},
		{"add-net-raw-drop-net-bind", secWith(secWithout(base, "CAP_NET_BIND_SERVICE"), "CAP_NET_RAW")},
	}
	seen := map[uint64]string{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := secID(t)
			spec := fixture.Spec(id, "cat", "/proc/self/status")
			secSetCaps(spec, c.caps)
			status := secMustRun(t, r, id, spec)
			want := secCapMask(t, c.caps)
			for _, field := range []string{"CapEff", "CapPrm", "CapBnd"} {
				if got := secStatusField(t, status, field); got != want {
					t.Errorf("%s = %016x, want %016x from %v", field, got, want, c.caps)
				}
			}
			if got := secStatusField(t, status, "CapAmb"); got != 0 {
				t.Errorf("CapAmb = %016x, want none", got)
			}
			if other, dup := seen[want]; dup {
				t.Errorf("cases %s and %s have the same mask: the test proves nothing", other, c.name)
			}
			seen[want] = c.name
		})
	}
}

func TestIsolationMountNeedsSysAdmin(t *testing.T) {
	r := fixture.NewRuntime(t)
	script := `mount -t tmpfs sec-tmpfs /mnt && grep sec-tmpfs /proc/mounts`

	id := secID(t)
	spec := fixture.Spec(id, "sh", "-c", script)
	b := fixture.Bundle(t, spec)
	if err := os.Mkdir(filepath.Join(b, "rootfs", "mnt"), 0o755); err != nil {
		t.Fatal(err)
	}
	res := secRunBundle(t, r, id, b)
	if res.Code == 0 || !strings.Contains(strings.ToLower(res.Stderr), "permission denied") && !strings.Contains(res.Stderr, "Operation not permitted") {
		t.Errorf("mount without CAP_SYS_ADMIN: exit %d, stdout %q, stderr %q; want a permission error", res.Code, res.Stdout, res.Stderr)
	}

	id = secID(t)
	spec = fixture.Spec(id, "sh", "-c", script)
	secSetCaps(spec, secWith(spec.Process.Capabilities.Effective, "CAP_SYS_ADMIN"))
	b = fixture.Bundle(t, spec)
	if err := os.Mkdir(filepath.Join(b, "rootfs", "mnt"), 0o755); err != nil {
		t.Fatal(err)
	}
	res = secRunBundle(t, r, id, b)
	if res.Code != 0 || !strings.Contains(res.Stdout, "sec-tmpfs /mnt tmpfs") {
		t.Errorf("mount with CAP_SYS_ADMIN: exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
	}
	// The mount stayed in the container's mount namespace.
	if hostMounts, _ := os.ReadFile("/proc/self/mounts"); strings.Contains(string(hostMounts), "sec-tmpfs") {
		t.Errorf("the container's tmpfs shows on the host:\n%s", hostMounts)
	}
}

func TestIsolationUserNamespace(t *testing.T) {
	r := fixture.NewRuntime(t)
	const hostID, size = 100000, 65536
	id := secID(t)
	spec := fixture.Spec(id, "sh", "-c", `id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; echo ready; exec sleep 100`)
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: size}}
	spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: size}}
	b := fixture.Bundle(t, spec)
	rootfs := filepath.Join(b, "rootfs")
	err := filepath.WalkDir(rootfs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, hostID, hostID)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The container's root is host uid 100000: it must be able to reach its
	// rootfs through the test's private temporary directories.
	for d := b; d != filepath.Dir(d) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	c := secStart(t, r, id, b)
	out := secWaitFile(t, c.Out, "ready\n", 10*time.Second)
	lines := strings.Split(out, "\n")
	if len(lines) < 5 || lines[0] != "0" || lines[1] != "0" {
		t.Fatalf("id -u and id -g inside: %q, want 0 and 0", out)
	}
	wantMap := fmt.Sprintf("0 %d %d", hostID, size)
	for i, name := range []string{"uid_map", "gid_map"} {
		if got := strings.Join(strings.Fields(lines[2+i]), " "); got != wantMap {
			t.Errorf("/proc/self/%s inside: %q, want %q", name, got, wantMap)
		}
	}

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		field, v, _ := strings.Cut(line, ":")
		if field != "Uid" && field != "Gid" {
			continue
		}
		for _, n := range strings.Fields(v) {
			if n != strconv.Itoa(hostID) {
				t.Errorf("host view of the init (pid %d): %s, want every id %d", c.Pid, line, hostID)
				break
			}
		}
	}
	if secReadlink(t, fmt.Sprintf("/proc/%d/ns/user", c.Pid)) == secReadlink(t, "/proc/self/ns/user") {
		t.Errorf("the container's init is in the host's user namespace")
	}
	// An exec'd process is root in the same user namespace.
	if res := secRt(t, r, "exec", id, "sh", "-c", "id -u; readlink /proc/self/ns/user"); res.Code != 0 ||
		res.Stdout != "0\n"+secReadlink(t, fmt.Sprintf("/proc/%d/ns/user", c.Pid))+"\n" {
		t.Errorf("exec in the user namespace: exit %d, %q, stderr %q", res.Code, res.Stdout, res.Stderr)
	}
}

func TestIsolationExecJoinsNamespaces(t *testing.T) {
	r := fixture.NewRuntime(t)
	id := secID(t)
	spec := fixture.Spec(id, "sleep", "100")
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	c := secStartSpec(t, r, id, spec)

	nss := []string{"pid", "net", "mnt", "ipc", "uts", "cgroup"}
	script := `for n in ` + strings.Join(nss, " ") + `; do readlink /proc/self/ns/$n; done; echo ---; for n in ` +
		strings.Join(nss, " ") + `; do readlink /proc/1/ns/$n; done; echo ---; cat /proc/1/cmdline; echo; echo $$`
	res := secRt(t, r, "exec", id, "sh", "-c", script)
	if res.Code != 0 {
		t.Fatalf("exec: exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
	}
	parts := strings.Split(res.Stdout, "---\n")
	if len(parts) != 3 {
		t.Fatalf("exec output:\n%s", res.Stdout)
	}
	execNS, initNS := strings.Fields(parts[0]), strings.Fields(parts[1])
	if len(execNS) != len(nss) || len(initNS) != len(nss) {
		t.Fatalf("exec output:\n%s", res.Stdout)
	}
	for i, ns := range nss {
		host := secReadlink(t, fmt.Sprintf("/proc/%d/ns/%s", c.Pid, ns))
		if execNS[i] != host {
			t.Errorf("%s namespace: exec'd process is in %s, the container's init in %s", ns, execNS[i], host)
		}
		if initNS[i] != host {
			t.Errorf("%s namespace: /proc/1 inside is in %s, the init seen from the host in %s", ns, initNS[i], host)
		}
		if self := secReadlink(t, "/proc/self/ns/"+ns); host == self {
			t.Errorf("%s namespace: the container shares the host's %s", ns, self)
		}
	}
	if tail := strings.Fields(parts[2]); len(tail) != 2 || tail[0] != "sleep\x00100\x00" && tail[0] != "sleep\x00100" {
		t.Errorf("pid 1 and own pid seen by the exec'd process: %q", parts[2])
	} else if pid, _ := strconv.Atoi(tail[1]); pid <= 1 {
		t.Errorf("the exec'd process has pid %s in the container's pid namespace, want > 1", tail[1])
	}
}

func TestIsolationJoinNetNamespaceByPath(t *testing.T) {
	r := fixture.NewRuntime(t)
	id1 := secID(t)
	first := secStartSpec(t, r, id1, fixture.Spec(id1, "sleep", "100"))
	netns := fmt.Sprintf("/proc/%d/ns/net", first.Pid)
	want := secReadlink(t, netns)

	id2 := secID(t)
	spec := fixture.Spec(id2, "sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/uts")
	for i, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			spec.Linux.Namespaces[i].Path = netns
		}
	}
	out := strings.Fields(secMustRun(t, r, id2, spec))
	if len(out) != 2 {
		t.Fatalf("second container printed %q", out)
	}
	if out[0] != want {
		t.Errorf("second container's net namespace %s, want the first's %s", out[0], want)
	}
	if firstUTS := secReadlink(t, fmt.Sprintf("/proc/%d/ns/uts", first.Pid)); out[1] == firstUTS {
		t.Errorf("second container shares the first's uts namespace %s too; only net was joined", firstUTS)
	}
	// The first container is unharmed by the second's exit.
	if st := secState(t, r, id1); st.Status != "running" {
		t.Errorf("first container is %s after the second ran", st.Status)
	}
}
