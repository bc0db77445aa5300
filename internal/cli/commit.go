package cli

import (
	"context"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/gantry-dev/gantry/internal/registry"
)

func newCommitCommand() *cobra.Command {
	var author, message string
	var changes []string
	var pause bool
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  cobra.RangeArgs(1, 2),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			q := url.Values{"container": {args[0]}}
			if len(args) == 2 {
				ref, err := registry.ParseNamed(args[1])
				if err != nil {
					return err
				}
				q.Set("repo", ref.FamiliarName())
				if ref.Tag() != "" {
					q.Set("tag", ref.Tag())
				}
			}
			q.Set("author", author)
			q.Set("comment", message)
			for _, c := range changes {
				q.Add("changes", c)
			}
			if !pause {
				q.Set("pause", "0")
			}
			resp, err := api.ContainerCommit(ctx, q)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), resp.ID)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	f.StringVarP(&message, "message", "m", "", "Commit message")
	f.StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	f.BoolVarP(&pause, "pause", "p", true, "Pause container during commit")
	return cmd
}
