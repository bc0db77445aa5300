package runtime

import (
	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

var seccompActions = map[specs.LinuxSeccompAction]bool{
	specs.ActKill: true, specs.ActKillProcess: true, specs.ActKillThread: true,
	specs.ActTrap: true, specs.ActErrno: true, specs.ActTrace: true,
	specs.ActAllow: true, specs.ActLog: true, specs.ActNotify: true,
}

var seccompOperators = map[specs.LinuxSeccompOperator]bool{
	specs.OpNotEqual: true, specs.OpLessThan: true, specs.OpLessEqual: true,
	specs.OpEqualTo: true, specs.OpGreaterEqual: true, specs.OpGreaterThan: true,
	specs.OpMaskedEqual: true,
}

func checkSeccomp(spec *specs.Spec) error {
	s := spec.Linux.Seccomp
	if s == nil {
		return nil
	}
	if !seccompActions[s.DefaultAction] {
		return errdefs.Invalid("linux.seccomp.defaultAction %q is not a seccomp action", s.DefaultAction)
	}
	for _, arch := range s.Architectures {
		if _, err := libseccomp.GetArchFromString(archName(arch)); err != nil {
			return errdefs.Invalid("linux.seccomp: unknown architecture %q", arch)
		}
	}
	for _, sc := range s.Syscalls {
		if !seccompActions[sc.Action] {
			return errdefs.Invalid("linux.seccomp: action %q for %v is not a seccomp action", sc.Action, sc.Names)
		}
		for _, name := range sc.Names {
			if _, err := libseccomp.GetSyscallFromName(name); err != nil && !dockerKnowsSyscall(name) {
				return errdefs.Invalid("linux.seccomp: unknown syscall %q: check its spelling, or drop it if this kernel does not have it", name)
			}
		}
		for _, arg := range sc.Args {
			if !seccompOperators[arg.Op] {
				return errdefs.Invalid("linux.seccomp: unknown operator %q in the rule for %v", arg.Op, sc.Names)
			}
			if arg.Index > 5 {
				return errdefs.Invalid("linux.seccomp: argument index %d in the rule for %v is out of range 0-5", arg.Index, sc.Names)
			}
		}
	}
	return nil
}

// dockerKnowsSyscall tells a real syscall that this host's libseccomp is too
// old to name (Docker's profile lists such: mseal, statmount, ...) from a
// typo. libcontainer skips the former, as runc does; the latter is refused.
func dockerKnowsSyscall(name string) bool {
	for _, sc := range seccomp.DefaultProfile().Syscalls {
		for _, n := range sc.Names {
			if n == name {
				return true
			}
		}
	}
	return false
}

// archName maps the spec's "SCMP_ARCH_X86_64" to libseccomp's "x86_64".
func archName(a specs.Arch) string {
	names := map[specs.Arch]string{
		specs.ArchX86: "x86", specs.ArchX86_64: "amd64", specs.ArchX32: "x32",
		specs.ArchARM: "arm", specs.ArchAARCH64: "arm64", specs.ArchMIPS: "mips",
		specs.ArchMIPS64: "mips64", specs.ArchMIPS64N32: "mips64n32", specs.ArchMIPSEL: "mipsel",
		specs.ArchMIPSEL64: "mipsel64", specs.ArchMIPSEL64N32: "mipsel64n32", specs.ArchPPC: "ppc",
		specs.ArchPPC64: "ppc64", specs.ArchPPC64LE: "ppc64le", specs.ArchS390: "s390",
		specs.ArchS390X: "s390x", specs.ArchRISCV64: "riscv64",
	}
	if n, ok := names[a]; ok {
		return n
	}
	return string(a)
}

// DefaultSeccomp returns Docker's default seccomp profile for spec (it
// depends on the process's capabilities), without the syscalls this host's
// libseccomp cannot name: those are denied by the default action anyway.
func DefaultSeccomp(spec *specs.Spec) (*specs.LinuxSeccomp, error) {
	profile, err := seccomp.GetDefaultProfile(spec)
	if err != nil {
		return nil, err
	}
	kept := profile.Syscalls[:0]
	for _, sc := range profile.Syscalls {
		names := sc.Names[:0]
		for _, n := range sc.Names {
			if _, err := libseccomp.GetSyscallFromName(n); err == nil {
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			sc.Names = names
			kept = append(kept, sc)
		}
	}
	profile.Syscalls = kept
	return profile, nil
}
