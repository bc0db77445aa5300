package container

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/profiles/seccomp"
	"github.com/moby/sys/capability"
	"github.com/moby/sys/user"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/runtime"
)

// defaultCaps is Docker's default capability set.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

var maskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
}

var readonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// defaultShmSize is Docker's /dev/shm size.
const defaultShmSize = 64 << 20

// initPath is where --init's reaper appears in the container, as Docker's
// docker-init does.
const initPath = "/sbin/docker-init"

// buildSpec turns a record into the OCI spec its bundle runs, with the
// root filesystem at rootfs. A rootfs that does not exist (at create)
// skips what needs the image's files: user names.
func (s *Service) buildSpec(rec *Record, rootfs string) (*specs.Spec, error) {
	cfg, hc := rec.Config, rec.HostConfig
	dir := s.containerDir(rec.ID)
	argv := append([]string{rec.Path}, rec.Args...)
	init := hc.Init != nil && *hc.Init
	if init {
		argv = append([]string{initPath, "--"}, argv...)
	}
	env := slices.Clone(cfg.Env)
	if !hasEnv(env, "PATH") {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	if !hasEnv(env, "HOSTNAME") {
		env = append([]string{"HOSTNAME=" + cfg.Hostname}, env...)
	}
	if cfg.Tty && !hasEnv(env, "TERM") {
		env = append(env, "TERM=xterm")
	}
	cwd := cfg.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	if !filepath.IsAbs(cwd) {
		return nil, errdefs.Invalid("the working directory '%s' is invalid, it needs to be an absolute path", cwd)
	}
	proc := &specs.Process{
		Terminal:        cfg.Tty,
		Args:            argv,
		Env:             env,
		Cwd:             filepath.Clean(cwd),
		OOMScoreAdj:     &hc.OomScoreAdj,
		NoNewPrivileges: false,
	}
	u, err := resolveUser(rootfs, cfg.User, hc.GroupAdd)
	if err != nil {
		return nil, err
	}
	proc.User = u

	caps, err := capabilities(hc)
	if err != nil {
		return nil, err
	}
	proc.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	if proc.User.UID != 0 {
		// A non-root user keeps the bounding set but no effective
		// capabilities, as with Docker.
		proc.Capabilities.Effective, proc.Capabilities.Permitted = nil, nil
	}
	rlimits, err := rlimits(hc.Ulimits, s.cfg.DefaultUlimits)
	if err != nil {
		return nil, err
	}
	proc.Rlimits = rlimits

	spec := &specs.Spec{
		Version:  specs.Version,
		Process:  proc,
		Root:     &specs.Root{Path: rootfs, Readonly: hc.ReadonlyRootfs},
		Hostname: cfg.Hostname,
		Mounts:   defaultMounts(hc),
		Linux: &specs.Linux{
			CgroupsPath: s.cgroupPath(rec.ID),
			Resources:   &specs.LinuxResources{},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
		},
	}
	if hc.NetworkMode != "host" {
		netns := specs.LinuxNamespace{Type: specs.NetworkNamespace}
		if rec.Network != nil {
			netns.Path = rec.Network.Netns // made and configured by the daemon
		}
		if j := rec.Joined; j != nil { // --network container: (joined.go)
			netns.Path, spec.Hostname, dir = j.Netns, j.Hostname, s.containerDir(j.ID)
		}
		spec.Linux.Namespaces = append(spec.Linux.Namespaces, netns)
	}
	if cgroupV2() {
		spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	for _, f := range []struct{ name, dest string }{{"hostname", "/etc/hostname"}, {"hosts", "/etc/hosts"}, {"resolv.conf", "/etc/resolv.conf"}} {
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: f.dest, Type: "bind", Source: filepath.Join(dir, f.name), Options: []string{"rbind", "rprivate"}})
	}
	if init {
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: initPath, Type: "bind", Source: s.cfg.ShimExe, Options: []string{"bind", "ro", "nosuid", "nodev"}})
	}
	user, err := userMounts(rec)
	if err != nil {
		return nil, err
	}
	spec.Mounts = withUserMounts(spec.Mounts, user)

	if err := resources(spec.Linux.Resources, &hc.Resources); err != nil {
		return nil, err
	}
	if err := applyLimits(spec, hc); err != nil {
		return nil, err
	}
	if hc.Privileged {
		spec.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	} else {
		spec.Linux.MaskedPaths = maskedPaths
		spec.Linux.ReadonlyPaths = readonlyPaths
	}
	if err := securityOpts(spec, hc); err != nil {
		return nil, err
	}
	for k, v := range hc.Sysctls {
		if spec.Linux.Sysctl == nil {
			spec.Linux.Sysctl = map[string]string{}
		}
		spec.Linux.Sysctl[k] = v
	}
	// The mounts and the program are checked by the runtime at start, when
	// the root filesystem is there.
	if err := runtime.ValidateSettings(spec); err != nil {
		return nil, err
	}
	return spec, nil
}

func hasEnv(env []string, name string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}

func defaultMounts(hc *container.HostConfig) []specs.Mount {
	shm := hc.ShmSize
	if shm <= 0 {
		shm = defaultShmSize
	}
	ms := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatInt(shm, 10)}},
	}
	if hc.Privileged {
		for i := range ms {
			if ms[i].Destination == "/sys" || ms[i].Destination == "/sys/fs/cgroup" {
				ms[i].Options = slices.DeleteFunc(ms[i].Options, func(o string) bool { return o == "ro" })
			}
		}
	}
	return ms
}

func capabilities(hc *container.HostConfig) ([]string, error) {
	known := map[string]bool{}
	var all []string
	// The capabilities this kernel has, and of them those gantry itself
	// holds (its bounding set): asking for any other fails the start.
	supported, err := capability.ListSupported()
	if err != nil {
		supported = capability.ListKnown()
	}
	bounding := ownBoundingSet()
	for _, c := range supported {
		name := "CAP_" + strings.ToUpper(c.String())
		known[name] = true
		if bounding == nil || bounding[c] {
			all = append(all, name)
		}
	}
	if hc.Privileged {
		return all, nil
	}
	norm := func(c string) (string, error) {
		c = strings.ToUpper(c)
		if c == "ALL" {
			return c, nil
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if !known[c] {
			return "", errdefs.Invalid("unknown capability: %q", c)
		}
		return c, nil
	}
	set := map[string]bool{}
	for _, c := range defaultCaps {
		set[c] = true
	}
	for _, c := range hc.CapDrop {
		n, err := norm(c)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			clear(set)
		} else {
			delete(set, n)
		}
	}
	for _, c := range hc.CapAdd {
		n, err := norm(c)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			for _, a := range all {
				set[a] = true
			}
		} else {
			set[n] = true
		}
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	slices.Sort(out)
	return out, nil
}

func rlimits(user, defaults []*container.Ulimit) ([]specs.POSIXRlimit, error) {
	byName := map[string]*container.Ulimit{}
	for _, u := range defaults {
		byName[u.Name] = u
	}
	for _, u := range user {
		byName[u.Name] = u
	}
	var out []specs.POSIXRlimit
	for name, u := range byName {
		if _, ok := ulimitNames[name]; !ok {
			return nil, errdefs.Invalid("invalid ulimit type: %s", name)
		}
		if u.Soft > u.Hard {
			return nil, errdefs.Invalid("ulimit soft limit must be less than or equal to hard limit: %d > %d", u.Soft, u.Hard)
		}
		out = append(out, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(name), Soft: uint64(u.Soft), Hard: uint64(u.Hard)})
	}
	slices.SortFunc(out, func(a, b specs.POSIXRlimit) int { return strings.Compare(a.Type, b.Type) })
	return out, nil
}

var ulimitNames = map[string]struct{}{
	"core": {}, "cpu": {}, "data": {}, "fsize": {}, "locks": {}, "memlock": {}, "msgqueue": {},
	"nice": {}, "nofile": {}, "nproc": {}, "rss": {}, "rtprio": {}, "rttime": {}, "sigpending": {}, "stack": {}, "as": {},
}

func tmpfsMounts(tmpfs map[string]string) ([]specs.Mount, error) {
	var out []specs.Mount
	for dest, opts := range tmpfs {
		if !filepath.IsAbs(dest) {
			return nil, errdefs.Invalid("invalid mount path %q: --tmpfs needs an absolute path in the container", dest)
		}
		o := []string{"nosuid", "nodev", "noexec"}
		if opts != "" {
			o = append(o, strings.Split(opts, ",")...)
		}
		out = append(out, specs.Mount{Destination: filepath.Clean(dest), Type: "tmpfs", Source: "tmpfs", Options: o})
	}
	slices.SortFunc(out, func(a, b specs.Mount) int { return strings.Compare(a.Destination, b.Destination) })
	return out, nil
}

// minMemory is Docker's smallest memory limit.
const minMemory = 6 << 20

func resources(r *specs.LinuxResources, in *container.Resources) error {
	if in.Memory != 0 {
		if in.Memory < minMemory {
			return errdefs.Invalid("Minimum memory limit allowed is 6MB")
		}
		r.Memory = &specs.LinuxMemory{Limit: &in.Memory}
		if in.MemorySwap != 0 {
			if in.MemorySwap > 0 && in.MemorySwap < in.Memory {
				return errdefs.Invalid("Minimum memoryswap limit should be larger than memory limit, see usage")
			}
			swap := in.MemorySwap
			r.Memory.Swap = &swap
		}
	} else if in.MemorySwap > 0 {
		return errdefs.Invalid("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if in.MemoryReservation != 0 {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		res := in.MemoryReservation
		r.Memory.Reservation = &res
	}
	if in.NanoCPUs != 0 && (in.CPUQuota != 0 || in.CPUPeriod != 0) {
		return errdefs.Invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	}
	cpu := &specs.LinuxCPU{}
	set := false
	if in.NanoCPUs != 0 {
		if in.NanoCPUs < 0 {
			return errdefs.Invalid("invalid value for --cpus: must be positive")
		}
		period := uint64(100000)
		quota := in.NanoCPUs * int64(period) / 1e9
		cpu.Period, cpu.Quota, set = &period, &quota, true
	}
	if in.CPUQuota != 0 {
		q := in.CPUQuota
		cpu.Quota, set = &q, true
	}
	if in.CPUPeriod != 0 {
		p := uint64(in.CPUPeriod)
		cpu.Period, set = &p, true
	}
	if in.CPUShares != 0 {
		if in.CPUShares < 0 {
			return errdefs.Invalid("invalid CPU shares: %d", in.CPUShares)
		}
		sh := uint64(in.CPUShares)
		cpu.Shares, set = &sh, true
	}
	if in.CpusetCpus != "" {
		cpu.Cpus, set = in.CpusetCpus, true
	}
	if in.CpusetMems != "" {
		cpu.Mems, set = in.CpusetMems, true
	}
	if set {
		r.CPU = cpu
	}
	if in.PidsLimit != nil && *in.PidsLimit != 0 {
		limit := *in.PidsLimit
		if limit < 0 {
			limit = -1
		}
		r.Pids = &specs.LinuxPids{Limit: &limit}
	}
	if in.BlkioWeight != 0 {
		w := in.BlkioWeight
		r.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	return nil
}

func securityOpts(spec *specs.Spec, hc *container.HostConfig) error {
	profile := ""
	for _, opt := range hc.SecurityOpt {
		k, v, ok := strings.Cut(opt, "=")
		if !ok {
			k, v, ok = strings.Cut(opt, ":")
		}
		switch {
		case k == "no-new-privileges":
			nnp := true
			if ok {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return errdefs.Invalid("invalid --security-opt 2: %q", opt)
				}
				nnp = b
			}
			spec.Process.NoNewPrivileges = nnp
		case k == "seccomp" && ok:
			profile = v
		case k == "apparmor" || k == "label":
			// Neither AppArmor nor SELinux is managed by gantry; the
			// values are accepted as Docker accepts them on hosts without.
		default:
			return errdefs.Invalid("invalid --security-opt: %q", opt)
		}
	}
	switch {
	case hc.Privileged || profile == "unconfined":
		return nil
	case profile == "":
		sc, err := runtime.DefaultSeccomp(spec)
		if err != nil {
			return err
		}
		spec.Linux.Seccomp = sc
	default:
		sc, err := seccomp.LoadProfile(profile, spec)
		if err != nil {
			return errdefs.Invalid("Decoding seccomp profile failed: %v", err)
		}
		spec.Linux.Seccomp = sc
	}
	return nil
}

// resolveUser finds user[:group] in the container's /etc/passwd and
// /etc/group, read without leaving its root filesystem.
func resolveUser(rootfs, spec string, groupAdd []string) (specs.User, error) {
	if _, err := os.Stat(rootfs); err != nil {
		return specs.User{}, nil
	}
	passwd, _ := openInRoot(rootfs, "/etc/passwd")
	group, _ := openInRoot(rootfs, "/etc/group")
	defer func() {
		if passwd != nil {
			passwd.Close()
		}
		if group != nil {
			group.Close()
		}
	}()
	exec, err := user.GetExecUser(spec, &user.ExecUser{}, readerOrNil(passwd), readerOrNil(group))
	if err != nil {
		return specs.User{}, errdefs.Invalid("unable to find user %s: %v", spec, err)
	}
	u := specs.User{UID: uint32(exec.Uid), GID: uint32(exec.Gid)}
	for _, g := range exec.Sgids {
		u.AdditionalGids = append(u.AdditionalGids, uint32(g))
	}
	if len(groupAdd) > 0 {
		g2, _ := openInRoot(rootfs, "/etc/group")
		gids, err := user.GetAdditionalGroups(groupAdd, readerOrNil(g2))
		if g2 != nil {
			g2.Close()
		}
		if err != nil {
			return specs.User{}, errdefs.Invalid("%v", err)
		}
		for _, g := range gids {
			u.AdditionalGids = append(u.AdditionalGids, uint32(g))
		}
	}
	return u, nil
}

func readerOrNil(f *os.File) io.Reader {
	if f == nil {
		return nil
	}
	return f
}

// openInRoot opens path inside root the way the container would see it:
// symlinks resolved, never outside root.
func openInRoot(root, path string) (*os.File, error) {
	dir, err := os.Open(root)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	fd, err := unix.Openat2(int(dir.Fd()), strings.TrimPrefix(path, "/"), &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return f, nil
}

func cgroupV2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// ownBoundingSet is the capabilities this process may pass on, nil when it
// cannot tell.
func ownBoundingSet() map[capability.Cap]bool {
	caps, err := capability.NewPid2(0)
	if err != nil || caps.Load() != nil {
		return nil
	}
	set := map[capability.Cap]bool{}
	for _, c := range capability.ListKnown() {
		if caps.Get(capability.BOUNDING, c) {
			set[c] = true
		}
	}
	return set
}

// cgroupPath is the cgroup of container id, under the daemon's parent.
func (s *Service) cgroupPath(id string) string { return path.Join(s.cfg.CgroupParent, id) }
