package runtimecli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mobyseccomp "github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gantry-dev/gantry/internal/fixture"
	"github.com/gantry-dev/gantry/internal/runtime"
)

// secTmpfs is a writable /tmp for a container whose root is read-only.
var secTmpfs = specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777", "size=4m"}}

// secHostUnprivilegedUserns tells whether this kernel lets an unprivileged
// process create a user namespace, by trying it as nobody on the host.
func secHostUnprivilegedUserns(t testing.TB) bool {
	t.Helper()
	bb, err := fixture.BusyboxPath()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bb, "unshare", "-U", "true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	res := secCmd(t, 10*time.Second, cmd)
	t.Logf("host: unprivileged `unshare -U true`: exit %d %s", res.Code, strings.TrimSpace(res.Stderr))
	return res.Code == 0
}

func TestSecuritySeccompDefaultProfile(t *testing.T) {
	r := fixture.NewRuntime(t)
	script := `grep -E '^Seccomp:' /proc/self/status; unshare -U true && echo userns-ok`

	id := secID(t)
	spec := fixture.Spec(id, "sh", "-c", script)
	profile, err := runtime.DefaultSeccomp(spec)
	if err != nil {
		t.Fatal(err)
	}
	spec.Linux.Seccomp = profile
	res, _ := secRunSpec(t, r, id, spec)
	if !strings.Contains(res.Stdout, "Seccomp:\t2") {
		t.Errorf("with Docker's profile the process is not in seccomp filter mode: %q", res.Stdout)
	}
	if res.Code == 0 || strings.Contains(res.Stdout, "userns-ok") || !strings.Contains(res.Stderr, "Operation not permitted") {
		t.Errorf("unshare -U under Docker's profile: exit %d, stdout %q, stderr %q; want Operation not permitted", res.Code, res.Stdout, res.Stderr)
	}

	// Processes exec'd into the container are filtered as well.
	id = secID(t)
	spec = fixture.Spec(id, "sleep", "100")
	spec.Linux.Seccomp = profile
	secStartSpec(t, r, id, spec)
	if res := secRt(t, r, "exec", id, "sh", "-c", script); res.Code == 0 || !strings.Contains(res.Stdout, "Seccomp:\t2") ||
		strings.Contains(res.Stdout, "userns-ok") || !strings.Contains(res.Stderr, "Operation not permitted") {
		t.Errorf("unshare -U exec'd under Docker's profile: exit %d, stdout %q, stderr %q; want Operation not permitted", res.Code, res.Stdout, res.Stderr)
	}

	// The same capabilities, no profile.
	id = secID(t)
	spec = fixture.Spec(id, "sh", "-c", script)
	res, _ = secRunSpec(t, r, id, spec)
	if !strings.Contains(res.Stdout, "Seccomp:\t0") {
		t.Errorf("without a profile the process is filtered anyway: %q", res.Stdout)
	}
	if secHostUnprivilegedUserns(t) {
		if res.Code != 0 || !strings.Contains(res.Stdout, "userns-ok") {
			t.Errorf("unshare -U without a profile: exit %d, stdout %q, stderr %q; the kernel allows it, so the profile was what denied it", res.Code, res.Stdout, res.Stderr)
		}
	} else {
		t.Logf("this kernel denies unprivileged user namespaces: no contrast without the profile (exit %d, %q)", res.Code, res.Stderr)
	}
}

// Docker, moby and containerd write their default profile into config.json
// as is, naming every syscall they know of; runc (libcontainer) ignores the
// names the host's libseccomp cannot resolve, as a kernel without those
// syscalls denies them anyway. gantry must run such a bundle too.
func TestSecuritySeccompDockerProfileAsWritten(t *testing.T) {
	r := fixture.NewRuntime(t)
	id := secID(t)
	spec := fixture.Spec(id, "sh", "-c", `grep -E '^Seccomp:' /proc/self/status; unshare -U true && echo userns-ok`)
	profile, err := mobyseccomp.GetDefaultProfile(spec)
	if err != nil {
		t.Fatal(err)
	}
	spec.Linux.Seccomp = profile
	res, b := secRunSpec(t, r, id, spec)
	if res.Code == 0 || !strings.Contains(res.Stdout, "Seccomp:\t2") || strings.Contains(res.Stdout, "userns-ok") ||
		!strings.Contains(res.Stderr, "Operation not permitted") {
		t.Errorf("Docker's profile as Docker writes it: exit %d, stdout %q, stderr %q; want the container to run, filtered, and unshare to fail with Operation not permitted", res.Code, res.Stdout, res.Stderr)
	}
	r.AssertClean(t, id, b)
}

func TestSecuritySeccompCustomProfile(t *testing.T) {
	r := fixture.NewRuntime(t)
	eperm, eacces := uint(1), uint(13)
	const perLinux32 = 0x0008
	profile := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &eperm},
			// personality(PER_LINUX32) is denied, personality(PER_LINUX) is not.
			{Names: []string{"personality"}, Action: specs.ActErrno, ErrnoRet: &eacces,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: perLinux32, Op: specs.OpEqualTo}}},
		},
	}
	script := `mkdir /tmp/x; echo mkdir=$?; touch /tmp/f; echo touch=$?; ` +
		`linux32 uname -m; echo linux32=$?; linux64 uname -m; echo linux64=$?`

	id := secID(t)
	spec := fixture.Spec(id, "sh", "-c", script)
	spec.Mounts = append(spec.Mounts, secTmpfs)
	spec.Linux.Seccomp = profile
	res, _ := secRunSpec(t, r, id, spec)
	for _, want := range []string{"mkdir=1\n", "touch=0\n", "linux32=1\n", "linux64=0\n"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("with the profile: stdout %q lacks %q (stderr %q)", res.Stdout, want, res.Stderr)
		}
	}
	if !strings.Contains(res.Stderr, "/tmp/x") || !strings.Contains(res.Stderr, "Operation not permitted") {
		t.Errorf("mkdir under the profile: stderr %q, want errnoRet 1 (Operation not permitted)", res.Stderr)
	}
	if !strings.Contains(res.Stderr, "Permission denied") {
		t.Errorf("linux32 under the profile: stderr %q, want errnoRet 13 (Permission denied)", res.Stderr)
	}

	// Without the profile everything works: the failures were the filter's.
	id = secID(t)
	spec = fixture.Spec(id, "sh", "-c", script)
	spec.Mounts = append(spec.Mounts, secTmpfs)
	res, _ = secRunSpec(t, r, id, spec)
	for _, want := range []string{"mkdir=0\n", "touch=0\n", "linux32=0\n", "linux64=0\n"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("without a profile: stdout %q lacks %q (stderr %q)", res.Stdout, want, res.Stderr)
		}
	}
}

// secHostOnly are names that a container's view of its own filesystem never
// shows but the host directories a runtime may hold open do: the host's
// root, the state directory, the bundle, the cgroup hierarchy, gantry's
// working directory.
var secHostOnly = []string{"work", "state.json", "exec.fifo", "config.json", "sec-securitynofdleaks",
	"gantry-test", "cgroup.procs", "unified", "sec-host-cwd-marker"}

func secCheckNoHostView(t *testing.T, what string, res fixture.Result) {
	t.Helper()
	for _, name := range secHostOnly {
		if strings.Contains(res.Stdout, name) {
			t.Errorf("%s: the process sees the host (%q):\n%s", what, name, res.Stdout)
		}
	}
}

// secWaitOnlyInit waits until the container's only process is its init.
func secWaitOnlyInit(t testing.TB, r *fixture.Runtime, id string, initPid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := secPids(t, r, id)
		if len(pids) == 1 && pids[0] == initPid {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("container %s's processes are %v, want only its init %d", id, pids, initPid)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSecurityNoFDLeaks(t *testing.T) {
	r := fixture.NewRuntime(t)
	// gantry runs from a host directory with a marker in it, and holds host
	// directories open from its caller (as a careless shim might leave
	// them) on fds 3 to 6.
	hostCwd := t.TempDir()
	if err := os.WriteFile(filepath.Join(hostCwd, "sec-host-cwd-marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var inherited []*os.File
	for _, dir := range []string{"/", hostCwd, "/sys/fs/cgroup", r.Root} {
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		inherited = append(inherited, f)
	}
	gantry := func(args ...string) fixture.Result {
		t.Helper()
		cmd := r.Command(args...)
		cmd.Dir = hostCwd
		cmd.ExtraFiles = inherited
		return secCmd(t, secTimeout, cmd)
	}
	script := `pwd; ls -a . ..; readlink /proc/self/cwd`

	for fd := 3; fd <= 12; fd++ {
		id := secID(t)
		spec := fixture.Spec(id, "sh", "-c", script)
		spec.Process.Cwd = "/proc/self/fd/" + strconv.Itoa(fd)
		b := fixture.Bundle(t, spec)
		what := fmt.Sprintf("run with cwd %s", spec.Process.Cwd)
		res := gantry("run", "--bundle", b, id)
		if res.Code != 0 {
			if res.Stderr == "" {
				t.Errorf("%s failed (exit %d) without saying why", what, res.Code)
			}
			r.AssertClean(t, id, b)
			continue
		}
		secCheckNoHostView(t, what, res)
	}

	// The same through exec into a running container, runc's CVE-2024-21626.
	id := secID(t)
	spec := fixture.Spec(id, "sleep", "100")
	spec.Root.Readonly = false // for the detached exec's report below
	c := secStartSpec(t, r, id, spec)
	for fd := 3; fd <= 12; fd++ {
		cwd := "/proc/self/fd/" + strconv.Itoa(fd)
		res := gantry("exec", "--cwd", cwd, id, "sh", "-c", script)
		if res.Code == 0 {
			secCheckNoHostView(t, "exec --cwd "+cwd, res)
		} else if res.Stderr == "" {
			t.Errorf("exec --cwd %s failed (exit %d) without saying why", cwd, res.Code)
		}
	}
	secWaitOnlyInit(t, r, id, c.Pid)

	// The container's processes hold stdio only: ls's fd 3 is the directory
	// it lists.
	fdList := func(what string, res fixture.Result) {
		t.Helper()
		if res.Code != 0 {
			t.Fatalf("%s: exit %d, stderr %q", what, res.Code, res.Stderr)
		}
		if fds := strings.Fields(res.Stdout); !slices.Equal(fds, []string{"0", "1", "2", "3"}) {
			t.Errorf("%s: open fds %v, want 0 1 2 and ls's own 3", what, fds)
		}
	}
	id = secID(t)
	b := fixture.Bundle(t, fixture.Spec(id, "ls", "/proc/self/fd"))
	fdList("container's init", gantry("run", "--bundle", b, id))
	fdList("exec'd process", gantry("exec", c.ID, "ls", "/proc/self/fd"))
	report := filepath.Join(c.Bundle, "rootfs", "tmp", "fds")
	res := gantry("exec", "--detach", c.ID, "sh", "-c", "ls /proc/self/fd > /tmp/fds.tmp; mv /tmp/fds.tmp /tmp/fds")
	if res.Code != 0 {
		t.Fatalf("exec -d: exit %d, stderr %q", res.Code, res.Stderr)
	}
	fdList("detached exec'd process", fixture.Result{Stdout: secWaitFile(t, report, "\n", 10*time.Second)})
}

// secSha256 is the hex digest of a file.
func secSha256(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func secCopyFile(t testing.TB, src, dst string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		t.Fatal(err)
	}
}

// secCopyLibs puts the shared libraries bin needs into rootfs, so that the
// runtime binary, were it ever reached from inside, can actually run there.
func secCopyLibs(t testing.TB, bin, rootfs string) {
	t.Helper()
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		t.Logf("ldd %s: %v (a static binary needs no libraries)", bin, err)
		return
	}
	for _, field := range strings.Fields(string(out)) {
		if !strings.HasPrefix(field, "/") {
			continue
		}
		if _, err := os.Stat(field); err == nil {
			secCopyFile(t, field, filepath.Join(rootfs, field), 0o755)
		}
	}
}

// secAttackLoop is the container's init: it keeps trying to open for
// writing the executable of every process in the container that is not
// busybox, as CVE-2019-5736's exploit does with runc.
const secAttackLoop = `
echo started > /tmp/attack.log
while [ ! -e /tmp/stop ]; do
	for d in /proc/[0-9]*; do
		e=$(readlink $d/exe 2>/dev/null) || continue
		case "$e" in /bin/busybox|"") continue ;; esac
		if { echo pwned >> $d/exe; } 2>>/tmp/attack.err; then
			echo "WROTE $d $e" >> /tmp/attack.log
		else
			echo "DENIED $d $e" >> /tmp/attack.log
		fi
	done
done
echo stopped >> /tmp/attack.log
`

// secAttacker holds the runtime binary running inside the container (the
// victim blocks opening the FIFO /tmp/fifo as its log), lets it exit, then
// reopens the held executable for writing through /proc/self/fd, as the
// exploit does once ETXTBSY no longer applies.
const secAttacker = `
for i in $(seq 500); do
	for d in /proc/[0-9]*; do
		case "$(readlink $d/exe 2>/dev/null)" in /bin/busybox|"") continue ;; esac
		tr '\0' ' ' < $d/cmdline 2>/dev/null | grep -q /tmp/fifo && victim=$d && break 2
	done
	usleep 10000
done
[ -n "$victim" ] || { echo "no victim"; exit 2; }
echo "victim $victim $(readlink $victim/exe)"
exec 3< $victim/exe || { echo "cannot hold the victim's exe"; exit 3; }
cat /tmp/fifo > /dev/null
for i in $(seq 500); do [ -e $victim ] || break; usleep 10000; done
[ -e $victim ] && { echo "victim still running"; exit 4; }
if { echo pwned >> /proc/self/fd/3; } 2>/tmp/reopen.err; then
	echo "REOPEN WROTE"
else
	echo "REOPEN DENIED: $(cat /tmp/reopen.err)"
fi
`

func TestSecurityProcSelfExeCannotOverwriteRuntime(t *testing.T) {
	r := fixture.NewRuntime(t)
	// This test's runtime is a copy: were the protection broken, the copy
	// would be damaged and not the binary the other tests use.
	bin := filepath.Join(t.TempDir(), "gantry")
	secCopyFile(t, r.Bin, bin, 0o755)
	r.Bin = bin
	before := secSha256(t, bin)

	id := secID(t)
	spec := fixture.Spec(id, "sh", "-c", secAttackLoop)
	spec.Root.Readonly = false
	b := fixture.Bundle(t, spec)
	rootfs := filepath.Join(b, "rootfs")
	secCopyLibs(t, bin, rootfs)
	// A program whose interpreter is whatever executable runs it: the
	// runtime's own binary when the runtime execs it.
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "evil"), []byte("#!/proc/self/exe\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := secStart(t, r, id, b)
	secWaitFile(t, filepath.Join(rootfs, "tmp", "attack.log"), "started", 10*time.Second)

	for i := range 3 {
		if res := secRt(t, r, "exec", id, "true"); res.Code != 0 {
			t.Errorf("plain exec %d: exit %d, stderr %q", i, res.Code, res.Stderr)
		}
		res := secRt(t, r, "exec", id, "/bin/evil")
		t.Logf("exec of a #!/proc/self/exe script: exit %d, stderr %q", res.Code, strings.TrimSpace(res.Stderr))
	}

	// Run the runtime binary inside the container directly, kept alive by a
	// FIFO, and attack it while and after it runs.
	if res := secRt(t, r, "exec", id, "mkfifo", "/tmp/fifo"); res.Code != 0 {
		t.Fatalf("mkfifo: exit %d, stderr %q", res.Code, res.Stderr)
	}
	out := filepath.Join(t.TempDir(), "victim-output")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	cmd := r.Command("exec", "--detach", id, "/proc/self/exe", "runtime", "--log", "/tmp/fifo", "state", "nothing")
	cmd.Stdout, cmd.Stderr = f, f
	res := secCmd(t, secTimeout, cmd)
	f.Close()
	if res.Code != 0 {
		data, _ := os.ReadFile(out)
		t.Fatalf("exec of /proc/self/exe: exit %d: %s", res.Code, data)
	}
	res = secRt(t, r, "exec", id, "sh", "-c", secAttacker)
	t.Logf("attacker: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	if res.Code != 0 || !strings.Contains(res.Stdout, "REOPEN DENIED") {
		t.Errorf("the attack did not run to its end or succeeded: exit %d\nstdout: %s\nstderr: %s", res.Code, res.Stdout, res.Stderr)
	}

	// More execs while the loop keeps trying.
	for range 3 {
		secRt(t, r, "exec", id, "/bin/evil")
		secRt(t, r, "exec", id, "true")
	}
	if err := os.WriteFile(filepath.Join(rootfs, "tmp", "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	log := secWaitFile(t, filepath.Join(rootfs, "tmp", "attack.log"), "stopped", 15*time.Second)
	errs, _ := os.ReadFile(filepath.Join(rootfs, "tmp", "attack.err"))
	t.Logf("attack loop: %d attempts\n%s", strings.Count(log, "\n")-2, secSummary(log, errs))
	if strings.Contains(log, "WROTE") {
		t.Errorf("the container wrote to a process's executable:\n%s", secSummary(log, errs))
	}
	if !strings.Contains(log, "DENIED") {
		t.Errorf("the attack loop never saw the runtime's binary in the container: the test proves nothing")
	}
	if after := secSha256(t, bin); after != before {
		t.Errorf("the runtime binary %s was modified from inside container %s: sha256 %s, was %s", bin, c.ID, after, before)
	}
}

// secSummary condenses the attack loop's log: each distinct line once.
func secSummary(log string, errs []byte) string {
	var out []string
	seen := map[string]bool{}
	for _, l := range append(strings.Split(log, "\n"), strings.Split(string(errs), "\n")...) {
		if l != "" && !seen[l] {
			seen[l] = true
			out = append(out, "  "+l)
		}
	}
	if len(out) > 40 {
		out = append(out[:40], "  ...")
	}
	return strings.Join(out, "\n")
}

func TestSecurityMaskedAndReadonlyPaths(t *testing.T) {
	r := fixture.NewRuntime(t)
	id := secID(t)
	spec := fixture.Spec(id, "true")
	var script strings.Builder
	var files, dirs []string
	for _, p := range spec.Linux.MaskedPaths {
		st, err := os.Stat(p)
		if err != nil {
			continue // not on this host's kernel
		}
		if st.IsDir() {
			dirs = append(dirs, p)
			fmt.Fprintf(&script, "echo \"dir %s $(ls -A %s | wc -l)\"; ", p, p)
		} else {
			files = append(files, p)
			fmt.Fprintf(&script, "echo \"file %s $(stat -c %%t:%%T %s) $(cat %s | wc -c)\"; ", p, p, p)
		}
	}
	if len(files) == 0 || len(dirs) == 0 {
		t.Fatalf("none of the masked paths %v exists on the host", spec.Linux.MaskedPaths)
	}
	script.WriteString(`echo ---; cat /proc/self/mountinfo; echo ---; ` +
		`echo sec > /proc/sys/kernel/domainname; echo domainname=$?; ` +
		`[ -e /proc/sysrq-trigger ] && { echo h > /proc/sysrq-trigger; echo sysrq=$?; }; true`)
	spec.Process.Args = []string{"sh", "-c", script.String()}
	hostDomain, _ := os.ReadFile("/proc/sys/kernel/domainname")

	res, _ := secRunSpec(t, r, id, spec)
	if res.Code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
	}
	out := res.Stdout
	parts := strings.Split(out, "---\n")
	if len(parts) != 3 {
		t.Fatalf("output:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(parts[0]), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "dir":
			if f[2] != "0" {
				t.Errorf("masked directory %s lists %s entries inside, want none", f[1], f[2])
			}
		case len(f) == 4 && f[0] == "file":
			if f[2] != "1:3" || f[3] != "0" {
				t.Errorf("masked file %s inside: device %s, %s bytes; want /dev/null (1:3), empty", f[1], f[2], f[3])
			}
		default:
			t.Errorf("unexpected line %q", line)
		}
	}

	mountOpts := map[string]string{}
	for _, line := range strings.Split(parts[1], "\n") {
		if f := strings.Fields(line); len(f) > 5 {
			mountOpts[f[4]] = f[5]
		}
	}
	for _, p := range spec.Linux.ReadonlyPaths {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		opts, ok := mountOpts[p]
		if !ok {
			t.Errorf("read-only path %s is not a mount inside", p)
		} else if !slices.Contains(strings.Split(opts, ","), "ro") {
			t.Errorf("read-only path %s is mounted %s inside", p, opts)
		}
	}
	if !strings.Contains(parts[2], "domainname=1") || !strings.Contains(res.Stderr, "can't create /proc/sys/kernel/domainname: Read-only file system") {
		t.Errorf("writing /proc/sys/kernel/domainname: stdout %q, stderr %q; want Read-only file system", parts[2], res.Stderr)
	}
	if strings.Contains(parts[2], "sysrq=0") {
		t.Errorf("writing /proc/sysrq-trigger succeeded")
	}
	if after, _ := os.ReadFile("/proc/sys/kernel/domainname"); string(after) != string(hostDomain) {
		t.Errorf("the host's domainname changed from %q to %q", hostDomain, after)
	}
}

func TestSecurityBindMountSymlinkStaysInRootfs(t *testing.T) {
	r := fixture.NewRuntime(t)
	src := t.TempDir()
	marker := fmt.Sprintf("marker-%d-%d", os.Getpid(), time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(src, "marker"), []byte(marker), 0o644); err != nil {
		t.Fatal(err)
	}
	relTarget, absTarget := t.TempDir(), t.TempDir() // host directories the symlinks aim at

	id := secID(t)
	spec := fixture.Spec(id, "sh", "-c", fmt.Sprintf(
		`ls /evil/x /evilabs/x; cat /evil/x/marker; echo; cat /evilabs/x/marker; echo; cat %s/x/marker; echo; cat %s/x/marker`,
		relTarget, absTarget))
	for _, dst := range []string{"/evil/x", "/evilabs/x"} {
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
	}
	b := fixture.Bundle(t, spec)
	rootfs := filepath.Join(b, "rootfs")
	if err := os.Symlink("../../../../../../../.."+relTarget, filepath.Join(rootfs, "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(absTarget, filepath.Join(rootfs, "evilabs")); err != nil {
		t.Fatal(err)
	}

	res := secRunBundle(t, r, id, b)
	for _, target := range []string{relTarget, absTarget} {
		entries, err := os.ReadDir(target)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 0 {
			t.Errorf("the host directory %s, a symlink's target, gained %v: the bind mount escaped the rootfs", target, entries)
		}
		if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), target) {
			t.Errorf("a mount on the host's %s:\n%s", target, mi)
		}
	}
	if res.Code != 0 {
		t.Fatalf("container: exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
	}
	lines := strings.Split(res.Stdout, "\n")
	if n := strings.Count(res.Stdout, marker); n != 4 {
		t.Errorf("the marker shows %d times inside, want 4 (through each symlink and each rootfs-resolved path):\n%s", n, res.Stdout)
	}
	if !slices.Contains(lines, "marker") {
		t.Errorf("ls /evil/x does not list the marker file:\n%s", res.Stdout)
	}
	// The mount points were made inside the rootfs.
	for _, target := range []string{relTarget, absTarget} {
		if st, err := os.Stat(filepath.Join(rootfs, target, "x")); err != nil || !st.IsDir() {
			t.Errorf("mount point %s/x not made in the rootfs: %v", target, err)
		}
	}
}

func TestSecurityReadonlyRootfs(t *testing.T) {
	r := fixture.NewRuntime(t)
	for _, prop := range []string{"", "rprivate", "rslave", "shared"} {
		t.Run("propagation="+prop, func(t *testing.T) {
			id := secID(t)
			spec := fixture.Spec(id, "sh", "-c",
				`touch /sec-file; echo root=$?; touch /dev/shm/ok; echo shm=$?; cat /proc/self/mountinfo`)
			spec.Root.Readonly = true
			spec.Linux.RootfsPropagation = prop
			res, b := secRunSpec(t, r, id, spec)
			if res.Code != 0 {
				t.Fatalf("exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
			}
			if !strings.Contains(res.Stdout, "root=1\n") || !strings.Contains(res.Stderr, "Read-only file system") {
				t.Errorf("writing / : stdout %q stderr %q, want Read-only file system", res.Stdout, res.Stderr)
			}
			if _, err := os.Stat(filepath.Join(b, "rootfs", "sec-file")); err == nil {
				t.Errorf("the file was created in the read-only rootfs")
			}
			if !strings.Contains(res.Stdout, "shm=0\n") {
				t.Errorf("/dev/shm is not writable: stdout %q stderr %q", res.Stdout, res.Stderr)
			}
			var root []string
			for line := range strings.SplitSeq(res.Stdout, "\n") {
				if f := strings.Fields(line); len(f) > 5 && f[4] == "/" {
					root = f
				}
			}
			if root == nil {
				t.Fatalf("no root mount in mountinfo:\n%s", res.Stdout)
			}
			if !slices.Contains(strings.Split(root[5], ","), "ro") {
				t.Errorf("the root is mounted %s", root[5])
			}
			shared := slices.ContainsFunc(root[6:], func(s string) bool { return strings.HasPrefix(s, "shared:") })
			if shared != (prop == "shared") {
				t.Errorf("rootfsPropagation %q: root mount %v", prop, root)
			}
		})
	}
}

func TestSecurityFailuresLeaveNothing(t *testing.T) {
	r := fixture.NewRuntime(t)

	// A missing program, found out before anything is made.
	id := secID(t)
	b := fixture.Bundle(t, fixture.Spec(id, "/bin/sec-no-such-program"))
	res := secRt(t, r, "create", "--bundle", b, id)
	if res.Code == 0 || !strings.Contains(res.Stderr, "sec-no-such-program") {
		t.Errorf("create with a missing program: exit %d, stderr %q", res.Code, res.Stderr)
	}
	r.AssertClean(t, id, b)

	// A missing program under a mount, which only the container's init can
	// find out, after namespaces, cgroups and mounts exist.
	for _, verb := range []string{"create", "run"} {
		id := secID(t)
		b := fixture.Bundle(t, fixture.Spec(id, "/dev/shm/sec-no-such-program"))
		res := secRt(t, r, verb, "--bundle", b, id)
		if res.Code == 0 || !strings.Contains(res.Stderr, "sec-no-such-program") {
			t.Errorf("%s with a missing program under a mount: exit %d, stderr %q", verb, res.Code, res.Stderr)
		}
		r.AssertClean(t, id, b)
		if out := secMust(t, r, "list", "-q"); strings.Contains(out, id) {
			t.Errorf("list shows %s after its failed %s", id, verb)
		}
	}

	// Failed execs leave the running container as it was.
	id = secID(t)
	c := secStartSpec(t, r, id, fixture.Spec(id, "sleep", "100"))
	for _, args := range [][]string{{"/bin/sec-no-such-program"}, {"sec-no-such-program"}, {"/etc/passwd"}} {
		res := secRt(t, r, append([]string{"exec", id}, args...)...)
		if res.Code != 255 || res.Stderr == "" {
			t.Errorf("exec %v: exit %d, stderr %q; want 255 and a reason", args, res.Code, res.Stderr)
		}
	}
	if st := secState(t, r, id); st.Status != "running" || st.Pid != c.Pid {
		t.Errorf("after failed execs the container is %s with pid %d, want running with %d", st.Status, st.Pid, c.Pid)
	}
	secWaitOnlyInit(t, r, id, c.Pid)
	if res := secRt(t, r, "exec", id, "true"); res.Code != 0 {
		t.Errorf("exec after the failed ones: exit %d, stderr %q", res.Code, res.Stderr)
	}
}
