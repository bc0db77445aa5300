package runtime

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Usage is one reading of a container's cgroup, the same on cgroup v1, v2
// and hybrid hosts. Times are nanoseconds, sizes bytes.
type Usage struct {
	Read    time.Time
	CPU     CPUUsage
	Memory  MemoryUsage
	Pids    PidsUsage
	BlockIO BlockIOUsage
	// OOMKills counts the processes the OOM killer took from the cgroup.
	OOMKills uint64
}

// CPUUsage is CPU time used and time throttled by a quota.
type CPUUsage struct {
	Total, User, System uint64
	PerCPU              []uint64 // v1 only
	Periods             uint64
	ThrottledPeriods    uint64
	ThrottledTime       uint64
}

// MemoryUsage is the memory charged to the cgroup; Stats is memory.stat.
type MemoryUsage struct {
	Usage, MaxUsage, Limit uint64
	Cache, RSS, Swap       uint64
	Failcnt                uint64
	Stats                  map[string]uint64
}

// PidsUsage is the task count and its limit (0: no limit).
type PidsUsage struct{ Current, Limit uint64 }

// BlockIOUsage is I/O done, per device and operation.
type BlockIOUsage struct {
	ServiceBytes []BlkioEntry
	Serviced     []BlkioEntry
}

// BlkioEntry is one device's count for one operation (Read, Write, ...).
type BlkioEntry struct {
	Major, Minor uint64
	Op           string
	Value        uint64
}

// ReadUsage takes one sample through a cgroup manager. It reads only the
// files it reports, with plain system calls: a sample takes a fraction of a
// millisecond, so the engine can answer `stats` from a fresh reading.
func ReadUsage(m cgroups.Manager) (*Usage, error) {
	var r usageReader
	u := &Usage{Read: time.Now()}
	if cgroups.IsCgroup2UnifiedMode() {
		r.readV2(m.Path(""), u)
	} else {
		r.readV1(m.GetPaths(), u)
	}
	if r.missing {
		return nil, errdefs.NotFound("the container's cgroup is gone")
	}
	return u, nil
}

// usageReader reads small cgroup files into one reused buffer.
type usageReader struct {
	buf     [16 << 10]byte
	missing bool // the cgroup itself is gone
}

// read returns the file's content (valid until the next read), or nil.
func (r *usageReader) read(path string) []byte {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	n := 0
	for n < len(r.buf) {
		k, err := unix.Read(fd, r.buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || k <= 0 {
			break
		}
		n += k
	}
	return r.buf[:n]
}

func (r *usageReader) uint(path string) uint64 {
	v, _ := parseUint(bytes.TrimSpace(r.read(path)))
	return v
}

// parseUint reads a cgroup number; "max" is 0, meaning no limit.
func parseUint(b []byte) (uint64, bool) {
	v, err := strconv.ParseUint(string(b), 10, 64)
	return v, err == nil
}

// keyed calls fn for each "key value" line.
func keyed(data []byte, fn func(key string, val uint64)) {
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte{'\n'})
		data = rest
		k, v, ok := bytes.Cut(line, []byte{' '})
		if !ok {
			continue
		}
		if n, ok := parseUint(bytes.TrimSpace(v)); ok {
			fn(string(k), n)
		}
	}
}

const userHZ = 100 // cpuacct.stat counts in USER_HZ ticks

// ReadCPU takes the CPU time used: what a sampler keeping the previous
// reading of every container needs, at a fraction of a full sample's cost
// (one file: cpuacct.usage on v1, cpu.stat on v2, which also gives the
// user, system and throttling figures).
func ReadCPU(m cgroups.Manager) (CPUUsage, error) {
	var r usageReader
	var u Usage
	if cgroups.IsCgroup2UnifiedMode() {
		r.readCPUV2(m.Path(""), &u)
	} else if usage := r.read(filepath.Join(m.Path("cpuacct"), "cpuacct.usage")); usage != nil {
		u.CPU.Total, _ = parseUint(bytes.TrimSpace(usage))
	} else {
		r.missing = true
	}
	if r.missing {
		return CPUUsage{}, errdefs.NotFound("the container's cgroup is gone")
	}
	return u.CPU, nil
}

func (r *usageReader) readV1(paths map[string]string, u *Usage) {
	if r.readCPUV1(paths, u); r.missing {
		return
	}
	if mem := paths["memory"]; mem != "" {
		m := &u.Memory
		m.Usage = r.uint(filepath.Join(mem, "memory.usage_in_bytes"))
		m.MaxUsage = r.uint(filepath.Join(mem, "memory.max_usage_in_bytes"))
		m.Limit = r.uint(filepath.Join(mem, "memory.limit_in_bytes"))
		m.Failcnt = r.uint(filepath.Join(mem, "memory.failcnt"))
		m.Stats = map[string]uint64{}
		keyed(r.read(filepath.Join(mem, "memory.stat")), func(k string, v uint64) { m.Stats[k] = v })
		m.Cache, m.RSS, m.Swap = m.Stats["total_cache"], m.Stats["total_rss"], m.Stats["total_swap"]
		keyed(r.read(filepath.Join(mem, "memory.oom_control")), func(k string, v uint64) {
			if k == "oom_kill" {
				u.OOMKills = v
			}
		})
	}
	if pids := paths["pids"]; pids != "" {
		u.Pids.Current = r.uint(filepath.Join(pids, "pids.current"))
		u.Pids.Limit = r.uint(filepath.Join(pids, "pids.max"))
	}
	if blkio := paths["blkio"]; blkio != "" {
		u.BlockIO.ServiceBytes = blkioV1(r.read(filepath.Join(blkio, "blkio.throttle.io_service_bytes_recursive")))
		u.BlockIO.Serviced = blkioV1(r.read(filepath.Join(blkio, "blkio.throttle.io_serviced_recursive")))
	}
}

func (r *usageReader) readCPUV1(paths map[string]string, u *Usage) {
	if cpuacct := paths["cpuacct"]; cpuacct != "" {
		usage := r.read(filepath.Join(cpuacct, "cpuacct.usage"))
		if usage == nil {
			r.missing = true
			return
		}
		u.CPU.Total, _ = parseUint(bytes.TrimSpace(usage))
		for f := range bytes.FieldsSeq(r.read(filepath.Join(cpuacct, "cpuacct.usage_percpu"))) {
			n, _ := parseUint(f)
			u.CPU.PerCPU = append(u.CPU.PerCPU, n)
		}
		keyed(r.read(filepath.Join(cpuacct, "cpuacct.stat")), func(k string, v uint64) {
			switch k {
			case "user":
				u.CPU.User = v * (1e9 / userHZ)
			case "system":
				u.CPU.System = v * (1e9 / userHZ)
			}
		})
	}
	if cpu := paths["cpu"]; cpu != "" {
		keyed(r.read(filepath.Join(cpu, "cpu.stat")), func(k string, v uint64) {
			switch k {
			case "nr_periods":
				u.CPU.Periods = v
			case "nr_throttled":
				u.CPU.ThrottledPeriods = v
			case "throttled_time":
				u.CPU.ThrottledTime = v
			}
		})
	}
}

// blkioV1 parses "8:0 Read 4096" lines; the closing "Total" line is skipped.
func blkioV1(data []byte) []BlkioEntry {
	var out []BlkioEntry
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		f := bytes.Fields(line)
		if len(f) != 3 {
			continue
		}
		major, minor, ok := bytes.Cut(f[0], []byte{':'})
		if !ok {
			continue
		}
		e := BlkioEntry{Op: string(f[1])}
		e.Major, _ = parseUint(major)
		e.Minor, _ = parseUint(minor)
		e.Value, _ = parseUint(f[2])
		out = append(out, e)
	}
	return out
}

func (r *usageReader) readCPUV2(dir string, u *Usage) {
	stat := r.read(filepath.Join(dir, "cpu.stat"))
	if stat == nil {
		r.missing = true
		return
	}
	keyed(stat, func(k string, v uint64) {
		switch k {
		case "usage_usec":
			u.CPU.Total = v * 1000
		case "user_usec":
			u.CPU.User = v * 1000
		case "system_usec":
			u.CPU.System = v * 1000
		case "nr_periods":
			u.CPU.Periods = v
		case "nr_throttled":
			u.CPU.ThrottledPeriods = v
		case "throttled_usec":
			u.CPU.ThrottledTime = v * 1000
		}
	})
}

func (r *usageReader) readV2(dir string, u *Usage) {
	if r.readCPUV2(dir, u); r.missing {
		return
	}
	m := &u.Memory
	m.Usage = r.uint(filepath.Join(dir, "memory.current"))
	m.MaxUsage = r.uint(filepath.Join(dir, "memory.peak"))
	m.Limit = r.uint(filepath.Join(dir, "memory.max"))
	m.Swap = r.uint(filepath.Join(dir, "memory.swap.current"))
	m.Stats = map[string]uint64{}
	keyed(r.read(filepath.Join(dir, "memory.stat")), func(k string, v uint64) { m.Stats[k] = v })
	m.Cache, m.RSS = m.Stats["file"], m.Stats["anon"]
	keyed(r.read(filepath.Join(dir, "memory.events")), func(k string, v uint64) {
		switch k {
		case "oom_kill":
			u.OOMKills = v
		case "max":
			m.Failcnt = v
		}
	})
	u.Pids.Current = r.uint(filepath.Join(dir, "pids.current"))
	u.Pids.Limit = r.uint(filepath.Join(dir, "pids.max"))
	u.BlockIO = ioV2(r.read(filepath.Join(dir, "io.stat")))
}

// ioV2 parses "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." lines into v1's shape.
func ioV2(data []byte) BlockIOUsage {
	var out BlockIOUsage
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		f := bytes.Fields(line)
		if len(f) < 2 {
			continue
		}
		major, minor, ok := bytes.Cut(f[0], []byte{':'})
		if !ok {
			continue
		}
		maj, _ := parseUint(major)
		min, _ := parseUint(minor)
		for _, kv := range f[1:] {
			k, v, _ := bytes.Cut(kv, []byte{'='})
			n, _ := parseUint(v)
			e := BlkioEntry{Major: maj, Minor: min, Value: n}
			switch string(k) {
			case "rbytes":
				e.Op = "Read"
				out.ServiceBytes = append(out.ServiceBytes, e)
			case "wbytes":
				e.Op = "Write"
				out.ServiceBytes = append(out.ServiceBytes, e)
			case "rios":
				e.Op = "Read"
				out.Serviced = append(out.Serviced, e)
			case "wios":
				e.Op = "Write"
				out.Serviced = append(out.Serviced, e)
			}
		}
	}
	return out
}

// Usage samples a container by ID.
func (r *Runtime) Usage(ctx context.Context, id string) (*Usage, error) {
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

// CgroupManagerAt opens the cgroup at path (a container's cgroupsPath)
// for reading, without loading the container's state from disk: the
// stats sampler opens one per container it sees.
func CgroupManagerAt(path string) (cgroups.Manager, error) {
	return manager.New(&cgroups.Cgroup{Path: path, Resources: &cgroups.Resources{}})
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
