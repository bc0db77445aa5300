package container

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/cgroups"

	"github.com/gantry-dev/gantry/internal/runtime"
)

// StatsOptions are GET /containers/{id}/stats's query.
type StatsOptions struct {
	// Stream sends a sample every second until the client goes.
	Stream bool
	// OneShot answers one sample without the previous one (Docker leaves
	// precpu_stats empty then).
	OneShot bool
}

// samplePeriod is how often the sampler reads every running container's
// CPU time, and how often a stream sends a sample: Docker's 1 s.
const samplePeriod = time.Second

// Stats sends a container's resource use in Docker's shape: one sample,
// or one per second while stream is set. Docker answers a one-sample
// request after taking two samples a second apart (so that precpu_stats
// is filled); the sampler remembers each running container's previous CPU
// reading instead, so the answer comes at once and CPU % still covers the
// last second.
func (s *Service) Stats(ctx context.Context, ref string, opts StatsOptions, emit func(*container.StatsResponse) error) error {
	e, err := s.lookup(ref)
	if err != nil {
		return err
	}
	var prev *container.StatsResponse
	tick := time.NewTicker(samplePeriod)
	defer tick.Stop()
	for {
		st := s.statsOf(e, prev, opts.OneShot && !opts.Stream)
		if err := emit(st); err != nil || !opts.Stream {
			return err
		}
		if !st.Read.IsZero() {
			prev = st
		} else {
			prev = nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-e.removed:
			return nil
		case <-tick.C:
		}
	}
}

// statsOf takes a sample of e; prev (the last sample a stream sent) is
// the previous CPU reading when given, else the sampler's.
func (s *Service) statsOf(e *entry, prev *container.StatsResponse, oneShot bool) *container.StatsResponse {
	e.mu.Lock()
	id, name, st, pid := e.rec.ID, e.rec.Name, e.rec.State, e.rec.State.Pid
	netMode := e.rec.HostConfig.NetworkMode
	e.mu.Unlock()
	// Docker's answer for a container that is not running: its name and
	// ID, every figure zero.
	resp := &container.StatsResponse{ID: id, Name: "/" + name, OSType: "linux"}
	if !st.Running() {
		return resp
	}
	m, err := s.stats.manager(s.cgroupPath(id), id, pid)
	if err != nil {
		return resp
	}
	u, err := runtime.ReadUsage(m)
	if err != nil {
		s.stats.forget(id)
		return resp
	}
	sys, online := systemCPU()
	resp.Read = u.Read
	resp.CPUStats = cpuStats(u.CPU, sys, online)
	resp.MemoryStats = s.memoryStats(&u.Memory)
	resp.PidsStats = container.PidsStats{Current: u.Pids.Current, Limit: u.Pids.Limit}
	resp.BlkioStats = blkioStats(&u.BlockIO)
	if netMode != "host" {
		resp.Networks = netStats(pid)
	}
	switch {
	case oneShot:
	case prev != nil:
		resp.PreRead, resp.PreCPUStats = prev.Read, prev.CPUStats
	default:
		if pre, ok := s.stats.previous(id, u.Read); ok {
			resp.PreRead, resp.PreCPUStats = pre.read, cpuStats(pre.cpu, pre.system, pre.online)
		} else {
			// Not sampled yet (just started, or the daemon just
			// started): the time since the start is the interval; the
			// machine's CPU time over it is wall time × online CPUs.
			since := u.Read.Sub(st.StartedAt)
			if since > 0 && uint64(since)*uint64(online) < sys {
				resp.PreRead = st.StartedAt
				resp.PreCPUStats = container.CPUStats{SystemUsage: sys - uint64(since)*uint64(online), OnlineCPUs: online}
			}
		}
	}
	return resp
}

func cpuStats(c runtime.CPUUsage, system uint64, online uint32) container.CPUStats {
	return container.CPUStats{
		CPUUsage: container.CPUUsage{
			TotalUsage:        c.Total,
			PercpuUsage:       c.PerCPU,
			UsageInKernelmode: c.System,
			UsageInUsermode:   c.User,
		},
		SystemUsage: system,
		OnlineCPUs:  online,
		ThrottlingData: container.ThrottlingData{
			Periods:          c.Periods,
			ThrottledPeriods: c.ThrottledPeriods,
			ThrottledTime:    c.ThrottledTime,
		},
	}
}

// memoryStats fills what Docker fills: memory.stat's keys as they are
// (v1's total_inactive_file, v2's inactive_file: the docker CLI subtracts
// whichever is there from usage), and the machine's memory as the limit of
// a container without one.
func (s *Service) memoryStats(m *runtime.MemoryUsage) container.MemoryStats {
	out := container.MemoryStats{Usage: m.Usage, Limit: m.Limit, Stats: m.Stats}
	if !cgroups.IsCgroup2UnifiedMode() {
		out.MaxUsage, out.Failcnt = m.MaxUsage, m.Failcnt
	}
	if total := s.stats.machineMemory(); total > 0 && (out.Limit == 0 || out.Limit > total) {
		out.Limit = total
	}
	return out
}

// blkioStats is v1's recursive counters; on v2 only the bytes, with the
// lower-case operations Docker writes there.
func blkioStats(b *runtime.BlockIOUsage) container.BlkioStats {
	v2 := cgroups.IsCgroup2UnifiedMode()
	conv := func(in []runtime.BlkioEntry) []container.BlkioStatEntry {
		if in == nil {
			return nil
		}
		out := make([]container.BlkioStatEntry, 0, len(in))
		for _, e := range in {
			op := e.Op
			if v2 {
				op = strings.ToLower(op)
			}
			out = append(out, container.BlkioStatEntry{Major: e.Major, Minor: e.Minor, Op: op, Value: e.Value})
		}
		return out
	}
	out := container.BlkioStats{IoServiceBytesRecursive: conv(b.ServiceBytes)}
	if !v2 {
		out.IoServicedRecursive = conv(b.Serviced)
	}
	return out
}

// netStats reads the interfaces of the container's network namespace
// (lo left out, as Docker's), through its init process.
func netStats(pid int) map[string]container.NetworkStats {
	if pid <= 0 {
		return nil
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/dev")
	if err != nil {
		return nil
	}
	return parseNetDev(data)
}

// parseNetDev reads /proc/net/dev: two header lines, then
// "  eth0: rx bytes packets errs drop fifo frame compressed multicast tx bytes packets errs drop ...".
func parseNetDev(data []byte) map[string]container.NetworkStats {
	var out map[string]container.NetworkStats
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		name, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		iface := string(bytes.TrimSpace(name))
		f := bytes.Fields(rest)
		if iface == "lo" || len(f) < 16 {
			continue
		}
		n := func(i int) uint64 { v, _ := strconv.ParseUint(string(f[i]), 10, 64); return v }
		if out == nil {
			out = map[string]container.NetworkStats{}
		}
		out[iface] = container.NetworkStats{
			RxBytes: n(0), RxPackets: n(1), RxErrors: n(2), RxDropped: n(3),
			TxBytes: n(8), TxPackets: n(9), TxErrors: n(10), TxDropped: n(11),
		}
	}
	return out
}

// clockTicks is USER_HZ, the unit of /proc/stat.
const clockTicks = 100

// systemCPU is Docker's system_cpu_usage: the machine's CPU time in
// nanoseconds (the first seven fields of /proc/stat's "cpu" line), and the
// number of online CPUs (its "cpuN" lines).
func systemCPU() (uint64, uint32) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	return parseProcStat(data)
}

func parseProcStat(data []byte) (uint64, uint32) {
	var total uint64
	var online uint32
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		if !bytes.HasPrefix(line, []byte("cpu")) {
			if online > 0 {
				break // the cpu lines come first
			}
			continue
		}
		f := bytes.Fields(line)
		if string(f[0]) != "cpu" {
			online++
			continue
		}
		for i := 1; i < len(f) && i <= 7; i++ {
			v, _ := strconv.ParseUint(string(f[i]), 10, 64)
			total += v
		}
	}
	return total * (1e9 / clockTicks), online
}

// statsSampler keeps, for every running container, its last two CPU
// readings and the cgroup manager they come from. Its zero value is ready.
type statsSampler struct {
	mu       sync.Mutex
	byID     map[string]*sampled
	memOnce  sync.Once
	memTotal uint64
}

type sampled struct {
	pid     int
	m       cgroups.Manager
	samples [2]cpuSample // [0] the newer
}

type cpuSample struct {
	read   time.Time
	cpu    runtime.CPUUsage
	system uint64
	online uint32
}

// minInterval is the shortest interval a remembered reading may cover
// before the one before it is taken instead: a shorter one says little.
const minInterval = 200 * time.Millisecond

// previous is the remembered reading to compare a sample taken at now
// with.
func (ss *statsSampler) previous(id string, now time.Time) (cpuSample, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	c := ss.byID[id]
	if c == nil {
		return cpuSample{}, false
	}
	for _, smp := range c.samples {
		if !smp.read.IsZero() && now.Sub(smp.read) >= minInterval {
			return smp, true
		}
	}
	if smp := c.samples[1]; !smp.read.IsZero() {
		return smp, true
	}
	if smp := c.samples[0]; !smp.read.IsZero() && smp.read.Before(now) {
		return smp, true
	}
	return cpuSample{}, false
}

// manager is the container's cgroup manager (its cgroup at path), opened
// once per run.
func (ss *statsSampler) manager(path, id string, pid int) (cgroups.Manager, error) {
	ss.mu.Lock()
	c := ss.byID[id]
	ss.mu.Unlock()
	if c != nil && c.pid == pid {
		return c.m, nil
	}
	m, err := runtime.CgroupManagerAt(path)
	if err != nil {
		return nil, err
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.byID == nil {
		ss.byID = map[string]*sampled{}
	}
	ss.byID[id] = &sampled{pid: pid, m: m}
	return m, nil
}

func (ss *statsSampler) forget(id string) {
	ss.mu.Lock()
	delete(ss.byID, id)
	ss.mu.Unlock()
}

func (ss *statsSampler) machineMemory() uint64 {
	ss.memOnce.Do(func() {
		data, err := os.ReadFile("/proc/meminfo")
		if err != nil {
			return
		}
		for line := range bytes.SplitSeq(data, []byte{'\n'}) {
			if rest, ok := bytes.CutPrefix(line, []byte("MemTotal:")); ok {
				f := bytes.Fields(rest)
				if len(f) > 0 {
					kb, _ := strconv.ParseUint(string(f[0]), 10, 64)
					ss.memTotal = kb << 10
				}
				return
			}
		}
	})
	return ss.memTotal
}

// sampleLoop reads every running container's CPU time each period until
// the service closes. A reading is a few small cgroup files per container.
func (s *Service) sampleLoop(ctx context.Context) {
	tick := time.NewTicker(samplePeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.sampleAll()
	}
}

func (s *Service) sampleAll() {
	running := map[string]int{}
	for _, e := range s.all() {
		e.mu.Lock()
		if e.rec.State.Running() {
			running[e.rec.ID] = e.rec.State.Pid
		}
		e.mu.Unlock()
	}
	ss := &s.stats
	ss.mu.Lock()
	for id := range ss.byID {
		if _, ok := running[id]; !ok {
			delete(ss.byID, id)
		}
	}
	ss.mu.Unlock()
	if len(running) == 0 {
		return
	}
	sys, online := systemCPU()
	now := time.Now()
	for id, pid := range running {
		m, err := ss.manager(s.cgroupPath(id), id, pid)
		if err != nil {
			continue
		}
		cpu, err := runtime.ReadCPU(m)
		if err != nil {
			ss.forget(id)
			continue
		}
		ss.mu.Lock()
		if c := ss.byID[id]; c != nil {
			c.samples[1] = c.samples[0]
			c.samples[0] = cpuSample{read: now, cpu: cpu, system: sys, online: online}
		}
		ss.mu.Unlock()
	}
}
