package runtimecli

import (
	"encoding/json"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantry-dev/gantry/internal/runtime"
)

func newEventsCommand(g *globals) *cobra.Command {
	var interval time.Duration
	var stats bool
	cmd := &cobra.Command{
		Use:   "events [flags] <container-id>",
		Short: "Display container events: OOM notifications, exit, and CPU, memory and I/O usage",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			if stats {
				ev, err := rt.StatsEvent(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return enc.Encode(ev)
			}
			return rt.Events(cmd.Context(), args[0], interval, func(ev *runtime.Event) error {
				return enc.Encode(ev)
			})
		},
	}
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "set the stats collection interval")
	cmd.Flags().BoolVar(&stats, "stats", false, "display the container's stats then exit")
	return cmd
}
