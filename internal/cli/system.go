package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gantry-dev/gantry/internal/image"
)

func newSystemCommand() *cobra.Command {
	system := &cobra.Command{Use: "system", Short: "Manage gantry"}
	var repair bool
	var dataRoot string
	check := &cobra.Command{
		Use:   "check [OPTIONS]",
		Short: "Check the data root for damage a crash or a disk error left; --repair removes what is broken",
		Long: "Check the data root for damage a crash or a disk error left; --repair removes what is broken.\n" +
			"It opens the data root itself, not through the daemon: run it with the daemon stopped, or idle.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := image.Open(cmd.Context(), dataRoot, image.Options{})
			if err != nil {
				return err
			}
			defer svc.Close()
			problems, err := svc.Check(cmd.Context(), repair)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, p := range problems {
				fmt.Fprintln(out, p)
			}
			if len(problems) == 0 {
				fmt.Fprintf(out, "%s: no problems found\n", dataRoot)
				return nil
			}
			if repair {
				fmt.Fprintf(out, "%d problems found and repaired\n", len(problems))
				return nil
			}
			fmt.Fprintf(out, "%d problems found: run `gantry system check --repair` to remove what is broken\n", len(problems))
			return &exitCode{1}
		},
	}
	check.Flags().BoolVar(&repair, "repair", false, "remove what is broken so that it can be pulled again")
	check.Flags().StringVar(&dataRoot, "data-root", envOr("GANTRY_DATA_ROOT", "/var/lib/gantry"), "root directory of persistent gantry state")
	system.AddCommand(check)
	for _, c := range []*cobra.Command{newSystemDfCommand(), newSystemPruneCommand(), newEventsCommand(), newInfoCommand()} {
		c.SetFlagErrorFunc(flagError)
		c.DisableFlagsInUseLine = true
		system.AddCommand(c)
	}
	return system
}
