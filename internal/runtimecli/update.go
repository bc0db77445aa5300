package runtimecli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/docker/go-units"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

type updateOptions struct {
	resources                                         string
	memory, memoryReservation, memorySwap             string
	cpuPeriod, cpuQuota, cpuShares, cpuBurst          string
	cpuRtPeriod, cpuRtRuntime, cpusetCpus, cpusetMems string
	pidsLimit                                         int64
	blkioWeight                                       uint16
}

func newUpdateCommand(g *globals) *cobra.Command {
	var o updateOptions
	cmd := &cobra.Command{
		Use:   "update [flags] <container-id>",
		Short: "Update container resource constraints",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := o.toResources(cmd.Flags())
			if err != nil {
				return err
			}
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			return rt.Update(cmd.Context(), args[0], res)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.resources, "resources", "r", "", "path to a JSON file of linux.resources to apply, or '-' for standard input (other flags are then ignored)")
	f.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "per cgroup block I/O weight, 10 to 1000")
	f.StringVar(&o.cpuPeriod, "cpu-period", "", "CPU CFS period to be used for hardcapping (in usecs); 0 for the system default")
	f.StringVar(&o.cpuQuota, "cpu-quota", "", "CPU CFS hardcap limit (in usecs): allowed cpu time in a given period")
	f.StringVar(&o.cpuBurst, "cpu-burst", "", "CPU CFS burst limit (in usecs)")
	f.StringVar(&o.cpuShares, "cpu-share", "", "CPU shares (relative weight vs. other containers)")
	f.StringVar(&o.cpuShares, "cpu-shares", "", "CPU shares (relative weight vs. other containers)")
	f.StringVar(&o.cpuRtPeriod, "cpu-rt-period", "", "CPU realtime period (in usecs)")
	f.StringVar(&o.cpuRtRuntime, "cpu-rt-runtime", "", "CPU realtime hardcap limit (in usecs)")
	f.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPU(s) to use")
	f.StringVar(&o.cpusetMems, "cpuset-mems", "", "memory node(s) to use")
	f.StringVar(&o.memory, "memory", "", "memory limit (bytes, or with a unit: 512m)")
	f.StringVar(&o.memoryReservation, "memory-reservation", "", "memory reservation or soft limit")
	f.StringVar(&o.memorySwap, "memory-swap", "", "total memory usage (memory + swap); '-1' for unlimited swap")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "maximum number of pids allowed in the container")
	return cmd
}

func (o *updateOptions) toResources(flags *pflag.FlagSet) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{},
		CPU:     &specs.LinuxCPU{},
		BlockIO: &specs.LinuxBlockIO{},
		Pids:    &specs.LinuxPids{},
	}
	if o.resources != "" {
		var in io.Reader = os.Stdin
		if o.resources != "-" {
			f, err := os.Open(o.resources)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			in = f
		}
		if err := json.NewDecoder(in).Decode(r); err != nil {
			return nil, fmt.Errorf("resources JSON: %w", err)
		}
		return r, nil
	}
	if flags.Changed("blkio-weight") {
		w := o.blkioWeight
		r.BlockIO.Weight = &w
	}
	r.CPU.Cpus, r.CPU.Mems = o.cpusetCpus, o.cpusetMems
	for _, u := range []struct {
		name, val string
		dest      **uint64
	}{
		{"cpu-period", o.cpuPeriod, &r.CPU.Period},
		{"cpu-share(s)", o.cpuShares, &r.CPU.Shares},
		{"cpu-burst", o.cpuBurst, &r.CPU.Burst},
		{"cpu-rt-period", o.cpuRtPeriod, &r.CPU.RealtimePeriod},
	} {
		if u.val == "" {
			continue
		}
		v, err := strconv.ParseUint(u.val, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid value for --%s: %q is not a non-negative number", u.name, u.val)
		}
		*u.dest = &v
	}
	for _, s := range []struct {
		name, val string
		dest      **int64
	}{
		{"cpu-quota", o.cpuQuota, &r.CPU.Quota},
		{"cpu-rt-runtime", o.cpuRtRuntime, &r.CPU.RealtimeRuntime},
	} {
		if s.val == "" {
			continue
		}
		v, err := strconv.ParseInt(s.val, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid value for --%s: %q is not a number", s.name, s.val)
		}
		*s.dest = &v
	}
	for _, m := range []struct {
		name, val string
		dest      **int64
	}{
		{"memory", o.memory, &r.Memory.Limit},
		{"memory-reservation", o.memoryReservation, &r.Memory.Reservation},
		{"memory-swap", o.memorySwap, &r.Memory.Swap},
	} {
		if m.val == "" {
			continue
		}
		v := int64(-1)
		if m.val != "-1" {
			var err error
			if v, err = units.RAMInBytes(m.val); err != nil {
				return nil, fmt.Errorf("invalid value for --%s: %v", m.name, err)
			}
		}
		*m.dest = &v
	}
	if flags.Changed("pids-limit") {
		l := o.pidsLimit
		r.Pids.Limit = &l
	}
	return r, nil
}
