package runtime

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runc/libcontainer"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Sample is one reading of a container's cgroup: CPU (total, per CPU, user,
// system, throttling), memory (usage, limit, cache, rss, swap), pids, block
// I/O and the OOM-kill count, on cgroup v1, v2 and hybrid hosts alike.
type Sample struct {
	Read     time.Time
	Stats    *cgroups.Stats
	OOMKills uint64
}

// ReadUsage takes one sample through a cgroup manager. The engine keeps the
// manager of each running container and calls this directly.
func ReadUsage(m cgroups.Manager) (*Sample, error) {
	st, err := m.GetStats()
	if err != nil {
		return nil, err
	}
	return &Sample{Read: time.Now(), Stats: st, OOMKills: oomKills(m)}, nil
}

// oomKills reads the kernel's count of processes the OOM killer took from the
// cgroup: memory.events on v2, memory.oom_control on v1.
func oomKills(m cgroups.Manager) uint64 {
	paths := m.GetPaths()
	file := filepath.Join(paths["memory"], "memory.oom_control")
	if cgroups.IsCgroup2UnifiedMode() {
		file = filepath.Join(m.Path(""), "memory.events")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := bytes.Cut(sc.Bytes(), []byte(" "))
		if ok && string(key) == "oom_kill" {
			n, _ := strconv.ParseUint(string(val), 10, 64)
			return n
		}
	}
	return 0
}

// Usage samples a container by ID.
func (r *Runtime) Usage(ctx context.Context, id string) (*Sample, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	status, err := c.Status()
	if err != nil {
		return nil, err
	}
	if status == libcontainer.Stopped {
		return nil, errdefs.Conflict("container %s is not running", id)
	}
	m, err := managerOf(c)
	if err != nil {
		return nil, err
	}
	return ReadUsage(m)
}

// managerOf opens the cgroup manager of an existing container.
func managerOf(c *libcontainer.Container) (cgroups.Manager, error) {
	st, err := c.State()
	if err != nil {
		return nil, err
	}
	cfg := c.Config()
	return manager.NewWithPaths(cfg.Cgroups, st.CgroupPaths)
}
