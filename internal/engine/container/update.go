package container

import (
	"context"

	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Update changes a container's limits and restart policy, as `docker
// update`: fields left zero keep their value. A running container's cgroup
// is changed at once; the record keeps the new values for the next start.
// Nothing changes when any value is refused.
func (s *Service) Update(ctx context.Context, ref string, upd container.UpdateConfig) ([]string, error) {
	e, err := s.lookup(ref)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	rec := &e.rec
	if rec.State.Status == container.StateRemoving || rec.State.Status == container.StateDead {
		return nil, errdefs.Conflict("Cannot update container %s: container is marked for removal and cannot be \"update\"", rec.ID)
	}
	hc := *rec.HostConfig
	res, err := mergeResources(hc.Resources, upd.Resources)
	if err != nil {
		return nil, errdefs.Invalid("Cannot update container %s: %v", rec.ID, err)
	}
	warnings, err := checkResources(&res, true)
	if err != nil {
		return nil, err
	}
	hc.Resources = res
	if p := upd.RestartPolicy; p.Name != "" {
		if hc.AutoRemove && p.Name != container.RestartPolicyDisabled {
			return nil, errdefs.Invalid("Restart policy cannot be updated because AutoRemove is enabled for the container")
		}
		probe := hc
		probe.RestartPolicy = p
		if err := s.checkHostConfig(&probe); err != nil {
			return nil, err
		}
		hc.RestartPolicy = p
	}
	// The spec the next start will use must build, as at create.
	spec := &specs.Spec{Linux: &specs.Linux{Resources: &specs.LinuxResources{}}}
	if err := resources(spec.Linux.Resources, &hc.Resources); err != nil {
		return nil, err
	}
	if err := applyLimits(spec, &hc); err != nil {
		return nil, err
	}
	if rec.State.Running() {
		live := spec.Linux.Resources
		live.Devices = nil // set at creation only
		if err := s.rt.Update(ctx, rec.ID, live); err != nil {
			return nil, errdefs.Invalid("Cannot update container %s: %v", rec.ID, err)
		}
	}
	rec.HostConfig = &hc
	if err := s.persist(e); err != nil {
		return nil, err
	}
	s.publish("update", rec, nil)
	return warnings, nil
}

// mergeResources lays the set fields of upd over have, with dockerd's
// rules for limits that depend on each other.
func mergeResources(have, upd container.Resources) (container.Resources, error) {
	out := have
	if upd.BlkioWeight != 0 {
		out.BlkioWeight = upd.BlkioWeight
	}
	if upd.CPUShares != 0 {
		out.CPUShares = upd.CPUShares
	}
	if upd.NanoCPUs != 0 {
		if have.CPUPeriod != 0 && upd.CPUPeriod == 0 {
			return out, errorString("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set")
		}
		if have.CPUQuota != 0 && upd.CPUQuota == 0 {
			return out, errorString("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
		}
		out.NanoCPUs = upd.NanoCPUs
	}
	if upd.CPUPeriod != 0 {
		if have.NanoCPUs != 0 && upd.NanoCPUs == 0 {
			return out, errorString("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set")
		}
		out.CPUPeriod = upd.CPUPeriod
	}
	if upd.CPUQuota != 0 {
		if have.NanoCPUs != 0 && upd.NanoCPUs == 0 {
			return out, errorString("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
		}
		out.CPUQuota = upd.CPUQuota
	}
	if upd.CpusetCpus != "" {
		out.CpusetCpus = upd.CpusetCpus
	}
	if upd.CpusetMems != "" {
		out.CpusetMems = upd.CpusetMems
	}
	if upd.Memory != 0 {
		// A memory limit above the memory+swap limit needs the latter
		// changed with it.
		if upd.MemorySwap == 0 && have.MemorySwap > 0 && upd.Memory > have.MemorySwap {
			return out, errorString("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")
		}
		out.Memory = upd.Memory
	}
	if upd.MemorySwap != 0 {
		out.MemorySwap = upd.MemorySwap
	}
	if upd.MemoryReservation != 0 {
		out.MemoryReservation = upd.MemoryReservation
	}
	if upd.PidsLimit != nil {
		out.PidsLimit = upd.PidsLimit
	}
	if len(upd.BlkioDeviceReadBps) > 0 {
		out.BlkioDeviceReadBps = upd.BlkioDeviceReadBps
	}
	if len(upd.BlkioDeviceWriteBps) > 0 {
		out.BlkioDeviceWriteBps = upd.BlkioDeviceWriteBps
	}
	if len(upd.BlkioDeviceReadIOps) > 0 {
		out.BlkioDeviceReadIOps = upd.BlkioDeviceReadIOps
	}
	if len(upd.BlkioDeviceWriteIOps) > 0 {
		out.BlkioDeviceWriteIOps = upd.BlkioDeviceWriteIOps
	}
	if upd.CPURealtimePeriod != 0 || upd.CPURealtimeRuntime != 0 {
		out.CPURealtimePeriod, out.CPURealtimeRuntime = upd.CPURealtimePeriod, upd.CPURealtimeRuntime
	}
	return out, nil
}

type errorString string

func (e errorString) Error() string { return string(e) }
