package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newExportCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  exactArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			out := cmd.OutOrStdout()
			if output == "" && isTerminalWriter(out) {
				return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			body, err := api.ContainerExport(ctx, args[0])
			if err != nil {
				return err
			}
			defer body.Close()
			if output == "" {
				_, err := io.Copy(out, body)
				return err
			}
			return writeFileWhole(output, body)
		}),
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// writeFileWhole writes r to path through a temporary file beside it: the
// file appears whole or not at all.
func writeFileWhole(path string, r io.Reader) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".export-")
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
