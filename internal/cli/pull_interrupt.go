package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gantry-dev/gantry/internal/registry"
)

// pullInterrupted turns a pull stopped by Ctrl-C into one line saying so
// and that the next pull resumes (the daemon keeps what arrived), with the
// exit status of an interrupted command. Other errors pass unchanged.
func pullInterrupted(cmd *cobra.Command, ref registry.Reference, err error) error {
	if !errors.Is(err, context.Canceled) || cmd.Context().Err() == nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s: pull %s: interrupted; what was downloaded is kept: pull again to resume\n", filepath.Base(os.Args[0]), ref.Familiar())
	return &exitCode{130}
}
