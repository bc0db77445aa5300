package runtime

import (
	"encoding/json"

	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Warm does once, ahead of need, what the first container created in a
// process pays for on top of the creation itself: encoding/json's type
// tables for the OCI spec and libcontainer's config, libseccomp's syscall
// tables, the x32 probe, /proc/filesystems. A standby shim calls it while
// it waits for a container, so a start does not wait for it. Nothing is
// created.
func Warm() {
	spec := specconv.Example()
	spec.Root.Path = "/"
	if sc, err := DefaultSeccomp(spec); err == nil {
		spec.Linux.Seccomp = sc
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return
	}
	var s specs.Spec
	if json.Unmarshal(data, &s) != nil {
		return
	}
	_ = ValidateSettings(&s)
	_ = checkMounts(&s)
	_ = checkProcess(&s)
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{CgroupName: "warm", Spec: &s})
	if err != nil {
		return
	}
	if cfg.Seccomp != nil {
		compileFaster(cfg.Seccomp)
	}
	_, _ = json.Marshal(cfg)
	_, _ = newProcess(s.Process)
}
