package runtimecli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// Every bad input gives one line naming the problem, a non-zero exit, and
// leaves nothing behind.
func TestBadInput(t *testing.T) {
	r := fixture.NewRuntime(t)
	neg := int64(-5)
	cases := []struct {
		name   string
		id     string
		mutate func(s *specs.Spec, bundle string)
		want   string
	}{
		{"unknown namespace", "", func(s *specs.Spec, _ string) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, `unknown namespace type "bogus"`},
		{"missing rootfs", "", func(s *specs.Spec, b string) {
			s.Root.Path = "nothere"
		}, "root filesystem " + "BUNDLE/nothere does not exist"},
		{"unsupported ociVersion", "", func(s *specs.Spec, _ string) { s.Version = "2.0.0" },
			`ociVersion "2.0.0" is not supported`},
		{"newer ociVersion", "", func(s *specs.Spec, _ string) { s.Version = "1.4.0" },
			`ociVersion "1.4.0" is not supported`},
		{"empty args", "", func(s *specs.Spec, _ string) { s.Process.Args = nil },
			"process.args is empty"},
		{"missing program", "", func(s *specs.Spec, _ string) { s.Process.Args = []string{"/bin/nope"} },
			`exec: "/bin/nope": no such file in the container's root filesystem`},
		{"missing program in PATH", "", func(s *specs.Spec, _ string) { s.Process.Args = []string{"nope"} },
			`exec: "nope": executable file not found in $PATH`},
		{"bad mount type", "", func(s *specs.Spec, _ string) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "nosuchfs", Source: "x"})
		}, `unknown filesystem type "nosuchfs"`},
		{"id with slash", "a/b", nil, `invalid container ID "a/b"`},
		{"negative memory", "", func(s *specs.Spec, _ string) {
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &neg}}
		}, "linux.resources.memory.limit is -5"},
		{"cpuset outside host", "", func(s *specs.Spec, _ string) {
			s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-4095"}}
		}, `cpuset "0-4095" names CPU`},
		{"cgroupsPath escaping", "", func(s *specs.Spec, _ string) { s.Linux.CgroupsPath = "../../escape" },
			`linux.cgroupsPath "../../escape" climbs out of the cgroup root`},
		{"seccomp unknown syscall", "", func(s *specs.Spec, _ string) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"notasyscall"}, Action: specs.ActErrno}}}
		}, `unknown syscall "notasyscall"`},
		{"relative cwd", "", func(s *specs.Spec, _ string) { s.Process.Cwd = "tmp" },
			`process.cwd "tmp" is not an absolute path`},
		{"unknown capability", "", func(s *specs.Spec, _ string) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_NOPE")
		}, `unknown capability "CAP_NOPE"`},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.id
			if id == "" {
				id = "bad" + string(rune('a'+i))
			}
			spec := fixture.Spec(id, "true")
			b := fixture.Bundle(t, spec)
			if tc.mutate != nil {
				tc.mutate(spec, b)
				fixture.WriteSpec(t, b, spec)
			}
			want := strings.ReplaceAll(tc.want, "BUNDLE", b)
			for _, cmd := range [][]string{{"create", "-b", b, id}, {"run", "-b", b, id}} {
				res := r.Run(cmd...)
				if res.Code == 0 {
					t.Fatalf("%s succeeded", cmd[0])
				}
				lines := strings.Split(strings.TrimRight(res.Stderr, "\n"), "\n")
				if len(lines) != 1 || !strings.Contains(lines[0], want) {
					t.Errorf("%s: stderr %q, want one line containing %q", cmd[0], res.Stderr, want)
				}
				if !strings.HasPrefix(lines[0], "gantry: ") {
					t.Errorf("%s: message does not say who speaks: %q", cmd[0], lines[0])
				}
				if !strings.Contains(id, "/") {
					r.AssertClean(t, id, b)
				}
			}
		})
	}
}

func TestIDTaken(t *testing.T) {
	r := fixture.NewRuntime(t)
	b := fixture.Bundle(t, fixture.Spec("taken", "sleep", "100"))
	r.Must("run", "-d", "-b", b, "taken")
	res := r.Run("create", "-b", b, "taken")
	if res.Code == 0 || !strings.Contains(res.Stderr, `container "taken" already exists`) {
		t.Fatalf("second create: exit %d %q", res.Code, res.Stderr)
	}
	// the first container is untouched
	if st := state(t, r, "taken"); st.Status != "running" {
		t.Errorf("first container is %s after the refused create", st.Status)
	}
}

func TestNoConfig(t *testing.T) {
	r := fixture.NewRuntime(t)
	dir := t.TempDir()
	res := r.Run("run", "-b", dir, "noconf")
	if res.Code == 0 || !strings.Contains(res.Stderr, "no config.json in bundle") {
		t.Errorf("exit %d %q", res.Code, res.Stderr)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("{not json"), 0o644)
	res = r.Run("run", "-b", dir, "noconf")
	if res.Code == 0 || !strings.Contains(res.Stderr, "is not valid JSON") {
		t.Errorf("exit %d %q", res.Code, res.Stderr)
	}
}

func TestBadExec(t *testing.T) {
	r := fixture.NewRuntime(t)
	b := fixture.Bundle(t, fixture.Spec("badexec", "sleep", "100"))
	r.Must("run", "-d", "-b", b, "badexec")
	res := r.Run("exec", "badexec", "/bin/nope")
	if res.Code != 255 || !strings.Contains(res.Stderr, `exec: "/bin/nope": no such file in the container's root filesystem`) {
		t.Errorf("exec of a missing program: exit %d %q", res.Code, res.Stderr)
	}
	if res := r.Run("exec", "badexec"); res.Code != 255 || !strings.Contains(res.Stderr, "exec args cannot be empty") {
		t.Errorf("exec without a command: exit %d %q", res.Code, res.Stderr)
	}
	if res := r.Run("exec", "nosuch", "true"); res.Code != 255 || !strings.Contains(res.Stderr, `container "nosuch" does not exist`) {
		t.Errorf("exec into a missing container: exit %d %q", res.Code, res.Stderr)
	}
	if out := r.Must("ps", "--format", "json", "badexec"); strings.Count(out, ",") != 0 {
		t.Errorf("failed execs left processes: %s", out)
	}
}
