package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newSystemCommand(g *imageGlobals) *cobra.Command {
	system := &cobra.Command{Use: "system", Short: "Manage gantry"}
	var repair bool
	check := &cobra.Command{
		Use:   "check [OPTIONS]",
		Short: "Check the data root for damage a crash or a disk error left; --repair removes what is broken",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := g.open(cmd.Context())
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
				fmt.Fprintf(out, "%s: no problems found\n", g.dataRoot)
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
	system.AddCommand(check)
	return system
}
