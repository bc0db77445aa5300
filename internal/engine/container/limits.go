package container

import (
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// checkResources validates a container's limits as dockerd does (its
// words, its bounds) and adapts them as dockerd does: a memory limit
// without a swap limit gets twice the memory as memory+swap, a setting the
// host's cgroups cannot apply is dropped with a warning. update is set for
// `docker update`, which may change one limit alone.
func checkResources(r *container.Resources, update bool) ([]string, error) {
	var warnings []string
	v2 := cgroupV2()
	if r.Memory != 0 && r.Memory < minMemory {
		return nil, errdefs.Invalid("Minimum memory limit allowed is 6MB")
	}
	if r.Memory < 0 && r.Memory != -1 {
		return nil, errdefs.Invalid("invalid memory limit: %d", r.Memory)
	}
	if r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory {
		return nil, errdefs.Invalid("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if r.Memory == 0 && r.MemorySwap > 0 && !update {
		return nil, errdefs.Invalid("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if s := r.MemorySwappiness; s != nil && *s != -1 {
		if *s < 0 || *s > 100 {
			return nil, errdefs.Invalid("Invalid value: %v, valid memory swappiness range is 0-100", *s)
		}
		if v2 {
			warnings = append(warnings, "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.")
			r.MemorySwappiness = nil
		}
	}
	if r.MemoryReservation > 0 && r.MemoryReservation < minMemory {
		return nil, errdefs.Invalid("Minimum memory reservation allowed is 6MB")
	}
	if r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation {
		return nil, errdefs.Invalid("Minimum memory limit can not be less than memory reservation limit, see usage")
	}
	if r.OomKillDisable != nil && *r.OomKillDisable {
		if v2 {
			warnings = append(warnings, "Your kernel does not support OomKillDisable. OomKillDisable discarded.")
			r.OomKillDisable = nil
		} else if r.Memory == 0 {
			warnings = append(warnings, "OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.")
		}
	}
	if r.NanoCPUs > 0 && r.CPUPeriod > 0 {
		return nil, errdefs.Invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	}
	if r.NanoCPUs > 0 && r.CPUQuota > 0 {
		return nil, errdefs.Invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	}
	if n := goruntime.NumCPU(); r.NanoCPUs < 0 || r.NanoCPUs > int64(n)*1e9 {
		return nil, errdefs.Invalid("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n)
	}
	if r.CPUShares < 0 {
		return nil, errdefs.Invalid("invalid CPU shares (%d): value must be a positive integer", r.CPUShares)
	}
	if r.CPUShares > 0 && r.CPUShares < 2 {
		warnings = append(warnings, fmt.Sprintf("Changing requested CPUShares of %d to minimum allowed of %d", r.CPUShares, 2))
		r.CPUShares = 2
	}
	if r.CPUShares > 262144 {
		warnings = append(warnings, fmt.Sprintf("Changing requested CPUShares of %d to maximum allowed of %d", r.CPUShares, 262144))
		r.CPUShares = 262144
	}
	if r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000) {
		return nil, errdefs.Invalid("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	}
	if r.CPUQuota > 0 && r.CPUQuota < 1000 {
		return nil, errdefs.Invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	}
	if r.CPURealtimePeriod != 0 || r.CPURealtimeRuntime != 0 {
		return nil, errdefs.Invalid("--cpu-rt-period and --cpu-rt-runtime are not supported: gantry does not give containers real-time CPU time")
	}
	if err := checkCPUList(r.CpusetCpus, "/sys/devices/system/cpu/online", "cpus", "CPUs"); err != nil {
		return nil, err
	}
	if err := checkCPUList(r.CpusetMems, "/sys/devices/system/node/online", "mems", "memory nodes"); err != nil {
		return nil, err
	}
	if r.BlkioWeight > 0 && (r.BlkioWeight < 10 || r.BlkioWeight > 1000) {
		return nil, errdefs.Invalid("Range of blkio weight is from 10 to 1000")
	}
	for _, wd := range r.BlkioWeightDevice {
		if wd.Weight < 10 || wd.Weight > 1000 {
			return nil, errdefs.Invalid("invalid weight for device: %s", wd.Path)
		}
	}
	if r.PidsLimit != nil && *r.PidsLimit < 0 {
		unlimited := int64(-1)
		r.PidsLimit = &unlimited
	}
	if r.IOMaximumBandwidth != 0 || r.IOMaximumIOps != 0 {
		return nil, errdefs.Invalid("Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps")
	}
	if len(r.DeviceRequests) > 0 {
		// dockerd's words when no driver handles the request (it has one
		// only with the NVIDIA toolkit installed).
		return nil, errdefs.Invalid("could not select device driver %q with capabilities: %v", r.DeviceRequests[0].Driver, r.DeviceRequests[0].Capabilities)
	}
	if r.Memory > 0 && r.MemorySwap == 0 && !update && swapLimitSupported() {
		r.MemorySwap = 2 * r.Memory
	}
	return warnings, nil
}

// swapLimitSupported tells whether memory+swap can be limited (cgroup v1
// needs swapaccount on).
func swapLimitSupported() bool {
	if cgroupV2() {
		return true
	}
	_, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
	return err == nil
}

// checkCPUList checks a cpuset list ("0-2,4") against what is online.
func checkCPUList(list, onlineFile, what, words string) error {
	if list == "" {
		return nil
	}
	want, ok := parseUintList(list)
	if !ok {
		return errdefs.Invalid("Invalid value %s for cpuset %s", list, what)
	}
	data, err := os.ReadFile(onlineFile)
	if err != nil {
		return nil // the kernel decides
	}
	online, _ := parseUintList(strings.TrimSpace(string(data)))
	for n := range want {
		if !online[n] {
			return errdefs.Invalid("Requested %s are not available - requested %s, available: %s", words, list, strings.TrimSpace(string(data)))
		}
	}
	return nil
}

func parseUintList(s string) (map[int]bool, bool) {
	out := map[int]bool{}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, false
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, false
			}
		}
		if b-a > 1<<16 {
			return nil, false
		}
		for i := a; i <= b; i++ {
			out[i] = true
		}
	}
	return out, true
}

// applyLimits adds to the spec what resources() leaves out: swappiness,
// the OOM killer switch, per-device I/O weights and throttles, and host
// devices.
func applyLimits(spec *specs.Spec, hc *container.HostConfig) error {
	r := spec.Linux.Resources
	in := &hc.Resources
	if s := in.MemorySwappiness; s != nil && *s >= 0 {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		v := uint64(*s)
		r.Memory.Swappiness = &v
	}
	if in.OomKillDisable != nil && *in.OomKillDisable {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		t := true
		r.Memory.DisableOOMKiller = &t
	}
	blk := r.BlockIO
	if blk == nil {
		blk = &specs.LinuxBlockIO{}
	}
	for _, wd := range in.BlkioWeightDevice {
		major, minor, err := deviceNumbers(wd.Path)
		if err != nil {
			return err
		}
		w := wd.Weight
		d := specs.LinuxWeightDevice{Weight: &w}
		d.Major, d.Minor = major, minor
		blk.WeightDevice = append(blk.WeightDevice, d)
	}
	for _, t := range []struct {
		in  []*blkiodev.ThrottleDevice
		out *[]specs.LinuxThrottleDevice
	}{
		{in.BlkioDeviceReadBps, &blk.ThrottleReadBpsDevice},
		{in.BlkioDeviceWriteBps, &blk.ThrottleWriteBpsDevice},
		{in.BlkioDeviceReadIOps, &blk.ThrottleReadIOPSDevice},
		{in.BlkioDeviceWriteIOps, &blk.ThrottleWriteIOPSDevice},
	} {
		for _, td := range t.in {
			major, minor, err := deviceNumbers(td.Path)
			if err != nil {
				return err
			}
			d := specs.LinuxThrottleDevice{Rate: td.Rate}
			d.Major, d.Minor = major, minor
			*t.out = append(*t.out, d)
		}
	}
	if blk.Weight != nil || len(blk.WeightDevice) > 0 || len(blk.ThrottleReadBpsDevice) > 0 || len(blk.ThrottleWriteBpsDevice) > 0 ||
		len(blk.ThrottleReadIOPSDevice) > 0 || len(blk.ThrottleWriteIOPSDevice) > 0 {
		r.BlockIO = blk
	}
	for _, dm := range in.Devices {
		if err := addDevice(spec, dm); err != nil {
			return err
		}
	}
	for _, rule := range in.DeviceCgroupRules {
		d, err := parseDeviceCgroupRule(rule)
		if err != nil {
			return err
		}
		r.Devices = append(r.Devices, d)
	}
	return nil
}

// parseDeviceCgroupRule reads --device-cgroup-rule: "TYPE MAJOR:MINOR
// ACCESS", as "c 1:3 mr" or "a *:* rwm".
func parseDeviceCgroupRule(rule string) (specs.LinuxDeviceCgroup, error) {
	bad := errdefs.Invalid("invalid device cgroup rule format: '%s'", rule)
	f := strings.Fields(rule)
	if len(f) != 3 || len(f[0]) != 1 || !strings.Contains("acb", f[0]) {
		return specs.LinuxDeviceCgroup{}, bad
	}
	num := func(s string) (*int64, bool) {
		if s == "*" {
			return nil, true
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return &n, err == nil && n >= 0
	}
	majS, minS, ok := strings.Cut(f[1], ":")
	major, ok1 := num(majS)
	minor, ok2 := num(minS)
	if !ok || !ok1 || !ok2 || f[2] == "" || strings.Trim(f[2], "rwm") != "" || len(f[2]) > 3 {
		return specs.LinuxDeviceCgroup{}, bad
	}
	return specs.LinuxDeviceCgroup{Allow: true, Type: f[0], Major: major, Minor: minor, Access: f[2]}, nil
}

// deviceNumbers is a block device's major and minor numbers.
func deviceNumbers(path string) (int64, int64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		if err == unix.ENOENT {
			return 0, 0, errdefs.Invalid("the device %s does not exist on this host", path)
		}
		return 0, 0, errdefs.Invalid("the device %s cannot be read: %v", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return 0, 0, errdefs.Invalid("%s is not a block device", path)
	}
	return int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev)), nil
}

// addDevice makes a host device node appear in the container and lets the
// container use it, as --device does.
func addDevice(spec *specs.Spec, dm container.DeviceMapping) error {
	var st unix.Stat_t
	if err := unix.Stat(dm.PathOnHost, &st); err != nil {
		return errdefs.Invalid("error gathering device information while adding custom device %q: %v", dm.PathOnHost, err)
	}
	var typ string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFBLK:
		typ = "b"
	default:
		return errdefs.Invalid("error gathering device information while adding custom device %q: not a device node", dm.PathOnHost)
	}
	inCtr := dm.PathInContainer
	if inCtr == "" {
		inCtr = dm.PathOnHost
	}
	perms := dm.CgroupPermissions
	if perms == "" {
		perms = "rwm"
	}
	for _, c := range perms {
		if c != 'r' && c != 'w' && c != 'm' {
			return errdefs.Invalid("invalid device mode: %s", perms)
		}
	}
	major, minor := int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	mode := os.FileMode(st.Mode & 0o777)
	uid, gid := st.Uid, st.Gid
	spec.Linux.Devices = append(spec.Linux.Devices, specs.LinuxDevice{
		Path: inCtr, Type: typ, Major: major, Minor: minor, FileMode: &mode, UID: &uid, GID: &gid,
	})
	spec.Linux.Resources.Devices = append(spec.Linux.Resources.Devices, specs.LinuxDeviceCgroup{
		Allow: true, Type: typ, Major: &major, Minor: &minor, Access: perms,
	})
	return nil
}
