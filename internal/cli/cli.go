// Package cli is gantry's command line: the root command and the roles a
// user reaches by name.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/runtimecli"
)

// Version is set at link time.
var Version = "dev"

// Main runs the command line and returns the exit code.
func Main(args []string) int {
	// Called as `docker` (a symlink), it is docker: help and errors say so.
	name := "gantry"
	if filepath.Base(args[0]) == "docker" {
		name = "docker"
	}
	root := &cobra.Command{
		Use:           name,
		Short:         "A container engine: build, ship and run containers, one binary, Docker's API",
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// -H/--host names the daemon before the command, as docker's does
	// (`gantry -H unix:///x ps`). It cannot be a persistent flag: history
	// (--human) and daemon (--host, the address to serve) have their own
	// -H, which a persistent -H would clash with.
	root.TraverseChildren = true
	root.Flags().StringP("host", "H", "", "Daemon socket to connect to (default $GANTRY_HOST, $DOCKER_HOST or "+defaultHost+")")
	root.Flags().StringP("context", "c", "", `Name of the context to use to connect to the daemon (overrides GANTRY_HOST, DOCKER_HOST and the context set with "context use")`)
	// With TraverseChildren the root runs for unknown commands: keep
	// cobra's error for them.
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
		}
		return nil
	}
	root.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	addCommands(root, args[1:]) // only those the arguments may run
	root.SetArgs(args[1:])
	// Signals are the runtime's to forward; only the CLI's own commands
	// cancel on interrupt.
	ctx := context.Background()
	// Not stopped when the command ends: the process exits then, and
	// stopping would wait for the signal loop to go idle.
	if len(args) < 2 || args[1] != "runtime" {
		ctx, _ = signal.NotifyContext(ctx, os.Interrupt, unix.SIGTERM)
	}
	if path := os.Getenv("GANTRY_CPUPROFILE"); path != "" {
		// A profiling aid: `GANTRY_CPUPROFILE=pull.prof gantry pull ...`.
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var code *exitCode
	if errors.As(err, &code) {
		return code.code // the command already said what went wrong
	}
	prog := filepath.Base(args[0])
	if c, _, ferr := root.Find(args[1:]); ferr == nil && c.Name() != "gantry" && len(args) > 1 && args[1] == "runtime" {
		return runtimecli.Report(prog, err)
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
	return 1
}

// exitCode ends a command with a status after it has printed its own errors.
type exitCode struct{ code int }

func (e *exitCode) Error() string { return fmt.Sprintf("exit status %d", e.code) }
