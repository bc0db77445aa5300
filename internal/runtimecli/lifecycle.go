package runtimecli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/runtime"
)

func addCreateFlags(cmd *cobra.Command, o *runtime.CreateOptions) {
	f := cmd.Flags()
	f.StringVarP(&o.Bundle, "bundle", "b", ".", "path to the root of the bundle directory")
	f.StringVar(&o.ConsoleSocket, "console-socket", "", "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal")
	f.StringVar(&o.PidFile, "pid-file", "", "specify the file to write the process id to")
	f.BoolVar(&o.NoPivot, "no-pivot", false, "do not use pivot root to jail process inside rootfs")
	f.BoolVar(&o.NoNewKeyring, "no-new-keyring", false, "do not create a new session keyring for the container")
	f.IntVar(&o.PreserveFDs, "preserve-fds", 0, "pass N additional file descriptors to the container (stdio + N in total)")
}

func newCreateCommand(g *globals) *cobra.Command {
	var o runtime.CreateOptions
	cmd := &cobra.Command{
		Use:   "create [flags] <container-id>",
		Short: "Create a container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			return rt.Create(cmd.Context(), args[0], o)
		},
	}
	addCreateFlags(cmd, &o)
	return cmd
}

func newRunCommand(g *globals) *cobra.Command {
	var o runtime.RunOptions
	cmd := &cobra.Command{
		Use:   "run [flags] <container-id>",
		Short: "Create and run a container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			status, err := rt.Run(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			if status != 0 {
				return &ExitError{Code: status}
			}
			return nil
		},
	}
	addCreateFlags(cmd, &o.CreateOptions)
	f := cmd.Flags()
	f.BoolVarP(&o.Detach, "detach", "d", false, "detach from the container's process")
	f.BoolVar(&o.Keep, "keep", false, "do not delete the container after it exits")
	f.BoolVar(&o.NoSubreaper, "no-subreaper", false, "disable the use of the subreaper used to reap reparented processes")
	return cmd
}

func newStartCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "start <container-id>",
		Short: "Execute the user defined process in a created container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			return rt.Start(cmd.Context(), args[0])
		},
	}
}

func newKillCommand(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "kill [flags] <container-id> [signal]",
		Short: "Send a signal (default: SIGTERM) to the container's init process",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig := "SIGTERM"
			if len(args) == 2 {
				sig = args[1]
			}
			s, err := parseSignal(sig)
			if err != nil {
				return err
			}
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			return rt.Kill(cmd.Context(), args[0], s, all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "send the signal to all processes in the container")
	return cmd
}

// parseSignal accepts 9, KILL and SIGKILL.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal number %d", n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

func newDeleteCommand(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete [flags] <container-id>",
		Short: "Delete any resources held by the container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			return rt.Delete(cmd.Context(), args[0], force)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "forcibly delete the container if it is still running (uses SIGKILL)")
	return cmd
}

func newPauseCommand(g *globals) *cobra.Command {
	return simple(g, "pause", "Suspend all processes inside the container", (*runtime.Runtime).Pause)
}

func newResumeCommand(g *globals) *cobra.Command {
	return simple(g, "resume", "Resume all processes that have been previously paused", (*runtime.Runtime).Resume)
}

func simple(g *globals, name, short string, op func(*runtime.Runtime, context.Context, string) error) *cobra.Command {
	return &cobra.Command{
		Use:   name + " <container-id>",
		Short: short,
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			return op(rt, cmd.Context(), args[0])
		},
	}
}
