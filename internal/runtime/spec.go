package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// ConfigFile is the name of the OCI configuration inside a bundle.
const ConfigFile = "config.json"

// LoadBundle reads and checks a bundle's config.json. The returned spec has
// an absolute root path and absolute bind-mount sources, so converting it
// does not depend on the working directory.
func LoadBundle(bundle string) (*specs.Spec, string, error) {
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return nil, "", errdefs.Invalid("bundle %q: %v", bundle, err)
	}
	data, err := os.ReadFile(filepath.Join(abs, ConfigFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", errdefs.NotFound("no %s in bundle %s: run `gantry runtime spec` there to make one", ConfigFile, abs)
		}
		return nil, "", errdefs.Invalid("read %s: %v", ConfigFile, err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, "", errdefs.Invalid("%s in %s is not valid JSON: %v", ConfigFile, abs, err)
	}
	if err := absolutize(&spec, abs); err != nil {
		return nil, "", err
	}
	if err := Validate(&spec); err != nil {
		return nil, "", err
	}
	return &spec, abs, nil
}

// absolutize resolves the paths the spec allows to be relative to the bundle.
func absolutize(spec *specs.Spec, bundle string) error {
	if spec.Root == nil || spec.Root.Path == "" {
		return errdefs.Invalid("config.json has no root.path: name the container's root filesystem")
	}
	if !filepath.IsAbs(spec.Root.Path) {
		spec.Root.Path = filepath.Join(bundle, spec.Root.Path)
	}
	for i, m := range spec.Mounts {
		if m.Source != "" && !filepath.IsAbs(m.Source) && isBind(m) {
			spec.Mounts[i].Source = filepath.Join(bundle, m.Source)
		}
	}
	return nil
}

func isBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// Validate checks what libcontainer would otherwise report late, obscurely or
// not at all, so that bad input fails before anything is created.
func Validate(spec *specs.Spec) error {
	checks := []func(*specs.Spec) error{
		checkVersion,
		checkRoot,
		checkProcess,
		checkNamespaces,
		checkMounts,
		checkResources,
		checkCgroupsPath,
		checkSeccomp,
	}
	for _, check := range checks {
		if err := check(spec); err != nil {
			return err
		}
	}
	return nil
}

// ValidateSettings checks what Validate does except the root filesystem and
// the process, for an engine that checks a container's settings before its
// root filesystem exists.
func ValidateSettings(spec *specs.Spec) error {
	for _, check := range []func(*specs.Spec) error{checkVersion, checkNamespaces, checkResources, checkCgroupsPath, checkSeccomp} {
		if err := check(spec); err != nil {
			return err
		}
	}
	return nil
}

func checkVersion(spec *specs.Spec) error {
	v := spec.Version
	if v == "" {
		return errdefs.Invalid("config.json has no ociVersion: set it to %q", specs.Version)
	}
	var major, minor, patch int
	core, _, _ := strings.Cut(v, "-")
	if n, _ := fmt.Sscanf(core, "%d.%d.%d", &major, &minor, &patch); n != 3 {
		return errdefs.Invalid("ociVersion %q is not a version like %q", v, specs.Version)
	}
	if major != specs.VersionMajor || minor > specs.VersionMinor ||
		(minor == specs.VersionMinor && patch > specs.VersionPatch) {
		return errdefs.Invalid("ociVersion %q is not supported: gantry supports 1.0.0 up to %s", v, specs.Version)
	}
	return nil
}

func checkRoot(spec *specs.Spec) error {
	st, err := os.Stat(spec.Root.Path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errdefs.NotFound("root filesystem %s does not exist", spec.Root.Path)
		}
		return errdefs.Invalid("root filesystem %s: %v", spec.Root.Path, err)
	}
	if !st.IsDir() {
		return errdefs.Invalid("root filesystem %s is not a directory", spec.Root.Path)
	}
	return nil
}

func checkProcess(spec *specs.Spec) error {
	if spec.Process == nil {
		return nil // a container created only to hold namespaces
	}
	return ValidateProcess(spec.Process)
}

// ValidateProcess checks a process of a container or of an exec.
func ValidateProcess(p *specs.Process) error {
	if len(p.Args) == 0 || p.Args[0] == "" {
		return errdefs.Invalid("process.args is empty: name the program to run")
	}
	if p.Cwd == "" {
		return errdefs.Invalid("process.cwd is empty: set it to an absolute path such as \"/\"")
	}
	if !filepath.IsAbs(p.Cwd) {
		return errdefs.Invalid("process.cwd %q is not an absolute path", p.Cwd)
	}
	for _, rl := range p.Rlimits {
		if _, ok := rlimitByName[rl.Type]; !ok {
			return errdefs.Invalid("unknown rlimit %q in process.rlimits", rl.Type)
		}
	}
	for _, set := range capabilitySets(p.Capabilities) {
		for _, c := range set {
			if !knownCapability(c) {
				return errdefs.Invalid("unknown capability %q in process.capabilities", c)
			}
		}
	}
	return nil
}

func capabilitySets(c *specs.LinuxCapabilities) [][]string {
	if c == nil {
		return nil
	}
	return [][]string{c.Bounding, c.Effective, c.Inheritable, c.Permitted, c.Ambient}
}

var namespaceTypes = map[specs.LinuxNamespaceType]bool{
	specs.PIDNamespace: true, specs.NetworkNamespace: true, specs.MountNamespace: true,
	specs.IPCNamespace: true, specs.UTSNamespace: true, specs.UserNamespace: true,
	specs.CgroupNamespace: true, specs.TimeNamespace: true,
}

func checkNamespaces(spec *specs.Spec) error {
	if spec.Linux == nil {
		return errdefs.Invalid("config.json has no linux section: gantry runs Linux containers only")
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range spec.Linux.Namespaces {
		if !namespaceTypes[ns.Type] {
			return errdefs.Invalid("unknown namespace type %q: use one of pid, network, mount, ipc, uts, user, cgroup, time", ns.Type)
		}
		if seen[ns.Type] {
			return errdefs.Invalid("namespace %q is listed twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" {
			if _, err := os.Stat(ns.Path); err != nil {
				return errdefs.NotFound("namespace %s path %s: %v", ns.Type, ns.Path, errors.Unwrap(err))
			}
		}
	}
	if !seen[specs.UserNamespace] && (len(spec.Linux.UIDMappings) > 0 || len(spec.Linux.GIDMappings) > 0) {
		return errdefs.Invalid("uidMappings/gidMappings need a user namespace in linux.namespaces")
	}
	return nil
}

func checkMounts(spec *specs.Spec) error {
	fs := filesystems()
	for _, m := range spec.Mounts {
		if m.Destination == "" {
			return errdefs.Invalid("a mount has no destination")
		}
		if !filepath.IsAbs(m.Destination) {
			return errdefs.Invalid("mount destination %q is not an absolute path", m.Destination)
		}
		if isBind(m) {
			if m.Source == "" {
				return errdefs.Invalid("bind mount to %s has no source", m.Destination)
			}
			if _, err := os.Stat(m.Source); err != nil {
				return errdefs.NotFound("bind mount source %s does not exist", m.Source)
			}
			continue
		}
		if m.Type == "" {
			return errdefs.Invalid("mount to %s has no type: give a filesystem type or the bind option", m.Destination)
		}
		if fs != nil && !fs[m.Type] {
			return errdefs.Invalid("mount to %s: unknown filesystem type %q (see /proc/filesystems)", m.Destination, m.Type)
		}
	}
	return nil
}

// filesystems lists the filesystem types the kernel knows, or nil when it
// cannot tell.
func filesystems() map[string]bool {
	data, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return nil
	}
	known := map[string]bool{}
	for line := range strings.SplitSeq(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 0 {
			known[fields[len(fields)-1]] = true
		}
	}
	return known
}

func checkResources(spec *specs.Spec) error {
	r := spec.Linux.Resources
	if r == nil {
		return nil
	}
	if m := r.Memory; m != nil {
		for name, v := range map[string]*int64{"limit": m.Limit, "reservation": m.Reservation, "swap": m.Swap} {
			if v != nil && *v < -1 {
				return errdefs.Invalid("linux.resources.memory.%s is %d: give a positive number of bytes, or -1 for no limit", name, *v)
			}
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit < -1 {
		return errdefs.Invalid("linux.resources.pids.limit is %d: give a positive number, or -1 for no limit", *r.Pids.Limit)
	}
	if c := r.CPU; c != nil && c.Cpus != "" {
		if err := checkCPUSet(c.Cpus); err != nil {
			return err
		}
	}
	return nil
}

func checkCgroupsPath(spec *specs.Spec) error {
	p := spec.Linux.CgroupsPath
	if p == "" {
		return nil
	}
	for part := range strings.SplitSeq(p, "/") {
		if part == ".." {
			return errdefs.Invalid("linux.cgroupsPath %q climbs out of the cgroup root: remove the \"..\"", p)
		}
	}
	return nil
}
