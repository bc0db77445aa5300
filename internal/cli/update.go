package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	"github.com/gantry-dev/gantry/internal/flagvalue"
)

type updateOptions struct {
	blkioWeight                                uint16
	cpuPeriod, cpuQuota, cpuRtPeriod, cpuRtRun int64
	cpuShares, pidsLimit                       int64
	cpusetCpus, cpusetMems, restartPolicy      string
	cpus                                       flagvalue.NanoCPUs
	memory, memoryReservation                  flagvalue.MemBytes
	memorySwap                                 flagvalue.MemSwapBytes
}

func newUpdateCommand() *cobra.Command {
	var o updateOptions
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  requiresMinArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			if cmd.Flags().NFlag() == 0 {
				return errors.New("you must provide one or more flags when using this command")
			}
			cfg, err := o.config(cmd)
			if err != nil {
				return err
			}
			var warnings []string
			err = forEach(ctx, cmd, args, func(ctx context.Context, name string) error {
				r, err := api.ContainerUpdate(ctx, name, cfg)
				warnings = append(warnings, r.Warnings...)
				return err
			})
			for _, w := range warnings {
				fmt.Fprintln(cmd.OutOrStdout(), w)
			}
			return err
		}),
	}
	f := cmd.Flags()
	f.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	f.Int64Var(&o.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	f.Int64Var(&o.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	f.Int64Var(&o.cpuRtPeriod, "cpu-rt-period", 0, "Limit the CPU real-time period in microseconds")
	f.Int64Var(&o.cpuRtRun, "cpu-rt-runtime", 0, "Limit the CPU real-time runtime in microseconds")
	f.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.Var(&o.cpus, "cpus", "Number of CPUs")
	f.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	f.VarP(&o.memory, "memory", "m", "Memory limit")
	f.Var(&o.memoryReservation, "memory-reservation", "Memory soft limit")
	f.Var(&o.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	f.StringVar(&o.restartPolicy, "restart", "", "Restart policy to apply when a container exits")
	cmd.SetFlagErrorFunc(flagError)
	return cmd
}

// config is the request: only what the flags set.
func (o *updateOptions) config(cmd *cobra.Command) (container.UpdateConfig, error) {
	var cfg container.UpdateConfig
	if cmd.Flags().Changed("restart") {
		p, err := flagvalue.ParseRestartPolicy(o.restartPolicy)
		if err != nil {
			return cfg, err
		}
		cfg.RestartPolicy = p
	}
	r := &cfg.Resources
	r.BlkioWeight = o.blkioWeight
	r.CPUPeriod, r.CPUQuota = o.cpuPeriod, o.cpuQuota
	r.CPURealtimePeriod, r.CPURealtimeRuntime = o.cpuRtPeriod, o.cpuRtRun
	r.CPUShares = o.cpuShares
	r.NanoCPUs = o.cpus.Value()
	r.CpusetCpus, r.CpusetMems = o.cpusetCpus, o.cpusetMems
	r.Memory, r.MemoryReservation, r.MemorySwap = o.memory.Value(), o.memoryReservation.Value(), o.memorySwap.Value()
	if cmd.Flags().Changed("pids-limit") {
		limit := o.pidsLimit
		r.PidsLimit = &limit
	}
	return cfg, nil
}
