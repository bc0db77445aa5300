package runtime

import (
	"context"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/types"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Event is runc's event JSON: "stats", "oom", and gantry's "exit" when the
// container's init has gone.
type Event = types.Event

// Events reports a running container: a stats event every interval, an oom
// event whenever the OOM killer strikes, and an exit event when it stops, after
// which it returns.
func (r *Runtime) Events(ctx context.Context, id string, interval time.Duration, emit func(*Event) error) error {
	if interval <= 0 {
		return errdefs.Invalid("--interval must be greater than 0")
	}
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if status, err := c.Status(); err != nil {
		return err
	} else if status == libcontainer.Stopped {
		return errdefs.Conflict("container with id %s is not running", id)
	}
	m, err := managerOf(c)
	if err != nil {
		return err
	}
	oom, err := c.NotifyOOM()
	if err != nil {
		return err
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case _, ok := <-oom:
			if !ok {
				// The notification closes when the cgroup goes away.
				oom = nil
				return emit(&Event{Type: "exit", ID: id})
			}
			if err := emit(&Event{Type: "oom", ID: id}); err != nil {
				return err
			}
		case <-tick.C:
			if status, err := c.Status(); err != nil || status == libcontainer.Stopped {
				return emit(&Event{Type: "exit", ID: id})
			}
			s, err := ReadUsage(m)
			if err != nil {
				continue
			}
			if err := emit(&Event{Type: "stats", ID: id, Data: s.RuncStats()}); err != nil {
				return err
			}
		}
	}
}

// StatsEvent is one "stats" event.
func (r *Runtime) StatsEvent(ctx context.Context, id string) (*Event, error) {
	s, err := r.Usage(ctx, id)
	if err != nil {
		return nil, err
	}
	return &Event{Type: "stats", ID: id, Data: s.RuncStats()}, nil
}

// RuncStats converts a sample to the shape `runc events` prints.
func (s *Sample) RuncStats() *types.Stats {
	cg := s.Stats
	var out types.Stats
	out.Pids.Current = cg.PidsStats.Current
	out.Pids.Limit = cg.PidsStats.Limit
	u := cg.CpuStats.CpuUsage
	out.CPU.Usage = types.CpuUsage{
		Total: u.TotalUsage, Percpu: u.PercpuUsage, PercpuKernel: u.PercpuUsageInKernelmode,
		PercpuUser: u.PercpuUsageInUsermode, Kernel: u.UsageInKernelmode, User: u.UsageInUsermode,
	}
	t := cg.CpuStats.ThrottlingData
	out.CPU.Throttling = types.Throttling{Periods: t.Periods, ThrottledPeriods: t.ThrottledPeriods, ThrottledTime: t.ThrottledTime}
	out.CPU.PSI = cg.CpuStats.PSI
	out.CPUSet = types.CPUSet(cg.CPUSetStats)
	mem := cg.MemoryStats
	out.Memory.Cache = mem.Cache
	out.Memory.Usage = memoryEntry(mem.Usage)
	out.Memory.Swap = memoryEntry(mem.SwapUsage)
	out.Memory.Kernel = memoryEntry(mem.KernelUsage)
	out.Memory.KernelTCP = memoryEntry(mem.KernelTCPUsage)
	out.Memory.Raw = mem.Stats
	out.Memory.PSI = mem.PSI
	b := cg.BlkioStats
	out.Blkio.IoServiceBytesRecursive = blkioEntries(b.IoServiceBytesRecursive)
	out.Blkio.IoServicedRecursive = blkioEntries(b.IoServicedRecursive)
	out.Blkio.IoQueuedRecursive = blkioEntries(b.IoQueuedRecursive)
	out.Blkio.IoServiceTimeRecursive = blkioEntries(b.IoServiceTimeRecursive)
	out.Blkio.IoWaitTimeRecursive = blkioEntries(b.IoWaitTimeRecursive)
	out.Blkio.IoMergedRecursive = blkioEntries(b.IoMergedRecursive)
	out.Blkio.IoTimeRecursive = blkioEntries(b.IoTimeRecursive)
	out.Blkio.SectorsRecursive = blkioEntries(b.SectorsRecursive)
	out.Blkio.PSI = b.PSI
	out.Hugetlb = map[string]types.Hugetlb{}
	for k, v := range cg.HugetlbStats {
		out.Hugetlb[k] = types.Hugetlb{Usage: v.Usage, Max: v.MaxUsage, Failcnt: v.Failcnt}
	}
	return &out
}

func memoryEntry(d cgroups.MemoryData) types.MemoryEntry {
	return types.MemoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
}

func blkioEntries(in []cgroups.BlkioStatEntry) []types.BlkioEntry {
	out := make([]types.BlkioEntry, 0, len(in))
	for _, e := range in {
		out = append(out, types.BlkioEntry(e))
	}
	return out
}
