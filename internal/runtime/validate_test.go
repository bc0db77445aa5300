package runtime

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

func TestCheckVersion(t *testing.T) {
	for v, ok := range map[string]bool{
		"1.0.0": true, "1.0.2-dev": true, "1.2.1": true, "1.3.0": true,
		"": false, "1.3.1": false, "1.4.0": false, "2.0.0": false, "0.9.0": false, "one": false,
	} {
		err := checkVersion(&specs.Spec{Version: v})
		if (err == nil) != ok {
			t.Errorf("ociVersion %q: err = %v, want ok=%v", v, err, ok)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ociVersion %q: error %v is not classed invalid", v, err)
		}
	}
}

func TestParseCPUList(t *testing.T) {
	cases := []struct {
		in   string
		want []int
		bad  bool
	}{
		{"0", []int{0}, false},
		{"0-3", []int{0, 1, 2, 3}, false},
		{"0,2-3,7", []int{0, 2, 3, 7}, false},
		{"3-1", nil, true},
		{"a", nil, true},
		{"-1", nil, true},
	}
	for _, c := range cases {
		got, err := parseCPUList(c.in)
		if (err != nil) != c.bad {
			t.Errorf("%q: err = %v", c.in, err)
			continue
		}
		if c.bad {
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%q: got %v, want %v", c.in, got, c.want)
		}
		for _, cpu := range c.want {
			if !got[cpu] {
				t.Errorf("%q: missing CPU %d", c.in, cpu)
			}
		}
	}
}

func TestValidateID(t *testing.T) {
	for id, ok := range map[string]bool{
		"web": true, "a-b_c.d+e": true, "0123": true,
		"": false, "a/b": false, ".": false, "..": false, "a b": false, strings.Repeat("x", 1025): false,
	} {
		if err := validateID(id); (err == nil) != ok {
			t.Errorf("id %q: err = %v, want ok=%v", id, err, ok)
		}
	}
}

func TestProgramError(t *testing.T) {
	cases := map[string]string{
		`unable to start container process: exec: "/bin/nope": stat /bin/nope: no such file or directory`: `exec: "/bin/nope": no such file in the container's root filesystem`,
		`unable to start container process: exec: "nope": executable file not found in $PATH`:             `exec: "nope": executable file not found in $PATH of the container`,
		`unable to start container process: exec: "/etc/passwd": permission denied`:                       `exec: "/etc/passwd": permission denied: is it executable?`,
		`something else`: `something else`,
	}
	for in, want := range cases {
		if got := programError(errors.New(in)).Error(); got != want {
			t.Errorf("programError(%q) = %q, want %q", in, got, want)
		}
	}
	if programError(nil) != nil {
		t.Error("programError(nil) != nil")
	}
}

func TestCheckSeccompNames(t *testing.T) {
	spec := func(names ...string) *specs.Spec {
		return &specs.Spec{Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: names, Action: specs.ActErrno}},
		}}}
	}
	if err := checkSeccomp(spec("mkdir", "openat")); err != nil {
		t.Errorf("known syscalls refused: %v", err)
	}
	// a syscall newer than this host's libseccomp but in Docker's profile
	if err := checkSeccomp(spec("mseal")); err != nil {
		t.Errorf("Docker's syscall names refused: %v", err)
	}
	if err := checkSeccomp(spec("mkdri")); err == nil || !strings.Contains(err.Error(), `unknown syscall "mkdri"`) {
		t.Errorf("typo accepted: %v", err)
	}
}
