package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// The container commands are clients of the Engine API: each is a cobra
// command, an options struct and one function, and fails as the docker CLI
// does — the same one-line messages (without docker's usage trailer) and
// the same exit codes.

// addContainerCommands registers the container and system commands, both
// at the top level (`gantry run`) and under `gantry container`.
func addContainerCommands(root *cobra.Command) {
	containerCmd := &cobra.Command{
		Use:   "container",
		Short: "Manage containers",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	sub := []*cobra.Command{
		newRunCommand(), newCreateCommand(), newStartCommand(), newStopCommand(), newRestartCommand(),
		newKillCommand(), newPauseCommand(), newUnpauseCommand(), newRmCommand("rm", "remove"),
		newPsCommand("ls", "ps", "list"), newLogsCommand(), newExecCommand(), newAttachCommand(),
		newWaitCommand(), newContainerInspectCommand(), newTopCommand(), newRenameCommand(),
		newStatsCommand(), newUpdateCommand(),
		newCpCommand(), newDiffCommand(), newExportCommand(), newContainerPruneCommand(),
		newPortCommand(),
	}
	top := []*cobra.Command{
		newRunCommand(), newCreateCommand(), newStartCommand(), newStopCommand(), newRestartCommand(),
		newKillCommand(), newPauseCommand(), newUnpauseCommand(), newRmCommand("rm"),
		newPsCommand("ps"), newLogsCommand(), newExecCommand(), newAttachCommand(),
		newWaitCommand(), newInspectCommand(), newTopCommand(), newRenameCommand(),
		newVersionCommand(), newInfoCommand(), containerCmd,
		newStatsCommand(), newUpdateCommand(),
		newCpCommand(), newDiffCommand(), newExportCommand(), newEventsCommand(),
		newPortCommand(),
	}
	for _, c := range append(sub, top...) {
		c.SetFlagErrorFunc(flagError)
		c.DisableFlagsInUseLine = true // the Use lines say [OPTIONS]
	}
	containerCmd.AddCommand(sub...)
	root.AddCommand(top...)
}

// statusError ends a command with a status after printing line (nothing
// when it is empty).
type statusError struct {
	status int
	line   string
}

func (e *statusError) Error() string {
	if e.line != "" {
		return e.line
	}
	return fmt.Sprintf("exit status %d", e.status)
}

// command wraps the body of a command that fails with status 1 as most
// docker commands do.
func command(run func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return commandStatus(1, "", run)
}

// commandStatus wraps a command's body: errors become one line on stderr
// (prefixed, for run and create, with "gantry: ") and an exit status
// (failStatus unless the error says otherwise).
func commandStatus(failStatus int, prefix string, run func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		if err == nil {
			return nil
		}
		var code *exitCode
		if errors.As(err, &code) {
			return err
		}
		status, line := failStatus, ""
		var se *statusError
		switch {
		case errors.As(err, &se):
			status, line = se.status, se.line
		case errors.Is(err, context.Canceled):
			// Interrupted: the user knows.
			return &exitCode{130}
		default:
			if l, ok := connError(err, hostOfCmd(cmd)); ok {
				line = prefix + l
			} else {
				line = prefix + errorText(err)
			}
		}
		if line != "" {
			fmt.Fprintln(cmd.ErrOrStderr(), line)
		}
		return &exitCode{status}
	}
}

// errorText is an error as one line per error (joined errors print one
// line each), without Go's wrapping noise.
func errorText(err error) string {
	return strings.TrimRight(err.Error(), "\n")
}

// flagError reports a bad flag or flag value as the docker CLI does, with
// status 125, before anything reaches the daemon.
func flagError(cmd *cobra.Command, err error) error {
	fmt.Fprintln(cmd.ErrOrStderr(), err)
	return &exitCode{125}
}

func plural(word string, n int) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func argError(cmd *cobra.Command, format string, a ...any) error {
	fmt.Fprintf(cmd.ErrOrStderr(), "gantry: '%s' %s\n", cmd.CommandPath(), fmt.Sprintf(format, a...))
	return &exitCode{1}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		fmt.Fprintf(cmd.ErrOrStderr(), "gantry: unknown command: %s %s\n", cmd.CommandPath(), args[0])
		return &exitCode{1}
	}
	return argError(cmd, "accepts no arguments")
}

func requiresMinArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return argError(cmd, "requires at least %d %s", n, plural("argument", n))
	}
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argError(cmd, "requires %d %s", n, plural("argument", n))
	}
}

// forEach runs op on every container at once (as the docker CLI does, up
// to 50 in flight), prints each name that succeeded in the order given,
// and joins the errors: one line each, exit status 1.
func forEach(ctx context.Context, cmd *cobra.Command, names []string, op func(ctx context.Context, name string) error) error {
	results := make([]chan error, len(names))
	sem := make(chan struct{}, 50)
	for i, name := range names {
		results[i] = make(chan error, 1)
		go func() {
			sem <- struct{}{}
			results[i] <- op(ctx, name)
			<-sem
		}()
	}
	var errs []error
	for i, name := range names {
		if err := <-results[i]; err != nil {
			if l, ok := connError(err, hostOfCmd(cmd)); ok {
				err = errors.New(l)
			}
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(cmd.OutOrStdout(), name)
	}
	return errors.Join(errs...)
}

func hostOfCmd(cmd *cobra.Command) string {
	h, _, _ := hostOf(cmd)
	return h
}
