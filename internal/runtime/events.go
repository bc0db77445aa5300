package runtime

import (
	"context"
	"time"

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
func (u *Usage) RuncStats() *types.Stats {
	var out types.Stats
	out.Pids.Current = u.Pids.Current
	out.Pids.Limit = u.Pids.Limit
	out.CPU.Usage = types.CpuUsage{Total: u.CPU.Total, Percpu: u.CPU.PerCPU, Kernel: u.CPU.System, User: u.CPU.User}
	out.CPU.Throttling = types.Throttling{
		Periods: u.CPU.Periods, ThrottledPeriods: u.CPU.ThrottledPeriods, ThrottledTime: u.CPU.ThrottledTime,
	}
	m := u.Memory
	out.Memory.Cache = m.Cache
	out.Memory.Usage = types.MemoryEntry{Limit: m.Limit, Usage: m.Usage, Max: m.MaxUsage, Failcnt: m.Failcnt}
	out.Memory.Swap = types.MemoryEntry{Usage: m.Swap}
	out.Memory.Raw = m.Stats
	out.Blkio.IoServiceBytesRecursive = blkioEntries(u.BlockIO.ServiceBytes)
	out.Blkio.IoServicedRecursive = blkioEntries(u.BlockIO.Serviced)
	return &out
}

func blkioEntries(in []BlkioEntry) []types.BlkioEntry {
	out := make([]types.BlkioEntry, 0, len(in))
	for _, e := range in {
		out = append(out, types.BlkioEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
	}
	return out
}
