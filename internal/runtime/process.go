package runtime

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// newProcess turns an OCI process into libcontainer's; the fields that depend
// on how it is started (stdio, console, init) are set by the caller.
func newProcess(p *specs.Process) (*libcontainer.Process, error) {
	noNewPrivs := p.NoNewPrivileges
	lp := &libcontainer.Process{
		Args:            p.Args,
		Env:             p.Env,
		UID:             int(p.User.UID),
		GID:             int(p.User.GID),
		Cwd:             p.Cwd,
		Label:           p.SelinuxLabel,
		NoNewPrivileges: &noNewPrivs,
		AppArmorProfile: p.ApparmorProfile,
		Scheduler:       p.Scheduler,
		IOPriority:      p.IOPriority,
	}
	if p.ConsoleSize != nil {
		lp.ConsoleWidth = uint16(p.ConsoleSize.Width)
		lp.ConsoleHeight = uint16(p.ConsoleSize.Height)
	}
	if c := p.Capabilities; c != nil {
		lp.Capabilities = &configs.Capabilities{
			Bounding:    c.Bounding,
			Effective:   c.Effective,
			Inheritable: c.Inheritable,
			Permitted:   c.Permitted,
			Ambient:     c.Ambient,
		}
	}
	for _, g := range p.User.AdditionalGids {
		lp.AdditionalGroups = append(lp.AdditionalGroups, int(g))
	}
	for _, rl := range p.Rlimits {
		typ, ok := rlimitByName[rl.Type]
		if !ok {
			return nil, errdefs.Invalid("unknown rlimit %q", rl.Type)
		}
		lp.Rlimits = append(lp.Rlimits, configs.Rlimit{Type: typ, Hard: rl.Hard, Soft: rl.Soft})
	}
	aff, err := configs.ConvertCPUAffinity(p.ExecCPUAffinity)
	if err != nil {
		return nil, errdefs.Invalid("process.execCPUAffinity: %v", err)
	}
	lp.CPUAffinity = aff
	return lp, nil
}

var rlimitByName = map[string]int{
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
}

func knownCapability(name string) bool {
	n := strings.ToLower(strings.TrimPrefix(strings.ToUpper(name), "CAP_"))
	for _, c := range capability.ListKnown() {
		if c.String() == n {
			return true
		}
	}
	return false
}

// checkProgram reports a program that cannot be found in the container's
// root filesystem before anything is created. Paths under a mount are left
// to the container's init, which sees the mounts.
func checkProgram(spec *specs.Spec) error {
	p := spec.Process
	if p == nil {
		return nil
	}
	prog := p.Args[0]
	if strings.Contains(prog, "/") {
		if !filepath.IsAbs(prog) {
			prog = filepath.Join(p.Cwd, prog)
		}
		if underMount(spec, prog) || existsInRoot(spec.Root.Path, prog) {
			return nil
		}
		return errdefs.NotFound("exec: %q: no such file in the container's root filesystem", p.Args[0])
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range p.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for dir := range strings.SplitSeq(path, ":") {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		full := filepath.Join(dir, prog)
		if underMount(spec, full) || existsInRoot(spec.Root.Path, full) {
			return nil
		}
	}
	return errdefs.NotFound("exec: %q: executable file not found in $PATH (%s) of the container's root filesystem", prog, path)
}

func underMount(spec *specs.Spec, path string) bool {
	for _, m := range spec.Mounts {
		d := filepath.Clean(m.Destination)
		if path == d || strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}

// existsInRoot resolves path inside root the way the container will see it:
// symlinks are followed but never out of root.
func existsInRoot(root, path string) bool {
	dir, err := os.Open(root)
	if err != nil {
		return false
	}
	defer dir.Close()
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(int(dir.Fd()), strings.TrimPrefix(path, "/"), &how)
	if err != nil {
		return err == unix.EXDEV // cannot tell: let the container's init decide
	}
	unix.Close(fd)
	return true
}

func checkCPUSet(cpus string) error {
	online, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil
	}
	have, err := parseCPUList(strings.TrimSpace(string(online)))
	if err != nil {
		return nil
	}
	want, err := parseCPUList(cpus)
	if err != nil {
		return errdefs.Invalid("cpuset %q: %v", cpus, err)
	}
	for cpu := range want {
		if !have[cpu] {
			return errdefs.Invalid("cpuset %q names CPU %d, but this host's online CPUs are %s", cpus, cpu, strings.TrimSpace(string(online)))
		}
	}
	return nil
}

// parseCPUList reads the kernel's list format: "0-3,5,7-8".
func parseCPUList(s string) (map[int]bool, error) {
	set := map[int]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, errdefs.Invalid("%q is not a CPU number", lo)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, errdefs.Invalid("%q is not a CPU range", part)
			}
		}
		for i := a; i <= b; i++ {
			set[i] = true
		}
	}
	return set, nil
}
