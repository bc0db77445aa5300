package cli

import (
	"context"
	"fmt"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"
)

func newDiffCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  exactArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			changes, err := api.ContainerDiff(ctx, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, c := range changes {
				fmt.Fprintf(out, "%s %s\n", changeLetter(c.Kind), c.Path)
			}
			return nil
		}),
	}
}

// changeLetter is docker diff's letter for a change.
func changeLetter(k container.ChangeType) string {
	switch k {
	case container.ChangeAdd:
		return "A"
	case container.ChangeDelete:
		return "D"
	}
	return "C"
}
