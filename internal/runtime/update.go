package runtime

import (
	"context"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Update changes a container's resource limits; fields left nil keep their
// value.
func (r *Runtime) Update(ctx context.Context, id string, res *specs.LinuxResources) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if err := checkResources(&specs.Spec{Linux: &specs.Linux{Resources: res}}); err != nil {
		return err
	}
	cfg := c.Config()
	cr := cfg.Cgroups.Resources
	if m := res.Memory; m != nil {
		if m.Limit != nil {
			cr.Memory = *m.Limit
			if *m.Limit == -1 && m.Swap == nil {
				cr.MemorySwap = 0 // runc: an unlimited memory takes swap with it
			}
		}
		if m.Reservation != nil {
			cr.MemoryReservation = *m.Reservation
		}
		if m.Swap != nil {
			cr.MemorySwap = *m.Swap
		}
		if m.CheckBeforeUpdate != nil {
			cr.MemoryCheckBeforeUpdate = *m.CheckBeforeUpdate
		}
	}
	if cpu := res.CPU; cpu != nil {
		if cpu.Shares != nil {
			cr.CpuShares = *cpu.Shares
			cr.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(*cpu.Shares)
		}
		if cpu.Quota != nil {
			cr.CpuQuota = *cpu.Quota
		}
		if cpu.Period != nil {
			cr.CpuPeriod = *cpu.Period
		}
		if cpu.Burst != nil {
			cr.CpuBurst = cpu.Burst
		}
		if cpu.RealtimePeriod != nil {
			cr.CpuRtPeriod = *cpu.RealtimePeriod
		}
		if cpu.RealtimeRuntime != nil {
			cr.CpuRtRuntime = *cpu.RealtimeRuntime
		}
		if cpu.Cpus != "" {
			cr.CpusetCpus = cpu.Cpus
		}
		if cpu.Mems != "" {
			cr.CpusetMems = cpu.Mems
		}
		if cpu.Idle != nil {
			cr.CPUIdle = cpu.Idle
		}
	}
	if res.Pids != nil && res.Pids.Limit != nil {
		limit := *res.Pids.Limit
		cr.PidsLimit = &limit
	}
	if b := res.BlockIO; b != nil {
		if b.Weight != nil {
			cr.BlkioWeight = *b.Weight
		}
		if b.LeafWeight != nil {
			cr.BlkioLeafWeight = *b.LeafWeight
		}
		for _, d := range b.ThrottleReadBpsDevice {
			cr.BlkioThrottleReadBpsDevice = upsertThrottle(cr.BlkioThrottleReadBpsDevice, d)
		}
		for _, d := range b.ThrottleWriteBpsDevice {
			cr.BlkioThrottleWriteBpsDevice = upsertThrottle(cr.BlkioThrottleWriteBpsDevice, d)
		}
		for _, d := range b.ThrottleReadIOPSDevice {
			cr.BlkioThrottleReadIOPSDevice = upsertThrottle(cr.BlkioThrottleReadIOPSDevice, d)
		}
		for _, d := range b.ThrottleWriteIOPSDevice {
			cr.BlkioThrottleWriteIOPSDevice = upsertThrottle(cr.BlkioThrottleWriteIOPSDevice, d)
		}
	}
	if res.Unified != nil {
		cr.Unified = res.Unified
	}
	// Device rules are set at creation; rewriting them would briefly deny
	// access to devices the container is using.
	cfg.Cgroups.SkipDevices = true
	if err := c.Set(cfg); err != nil {
		return errdefs.Invalid("update %s: %v", id, err)
	}
	return nil
}

func upsertThrottle(list []*cgroups.ThrottleDevice, d specs.LinuxThrottleDevice) []*cgroups.ThrottleDevice {
	for _, have := range list {
		if have.Major == d.Major && have.Minor == d.Minor {
			have.Rate = d.Rate
			return list
		}
	}
	return append(list, cgroups.NewThrottleDevice(d.Major, d.Minor, d.Rate))
}
