package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
)

// withAPI runs a command's body with a client; failures exit 1.
func withAPI(run func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error) func(*cobra.Command, []string) error {
	return command(func(cmd *cobra.Command, args []string) error {
		api, err := newAPIClient(cmd.Context(), cmd)
		if err != nil {
			return err
		}
		defer api.Close()
		return run(cmd.Context(), cmd, args, api)
	})
}

type stopOptions struct {
	signal  string
	timeout int
}

func (o *stopOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&o.signal, "signal", "s", "", "Signal to send to the container")
	f.IntVarP(&o.timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	f.IntVar(&o.timeout, "time", 0, "Seconds to wait before killing the container (deprecated: use --timeout)")
	_ = f.MarkDeprecated("time", "use --timeout instead")
}

// timeoutOf is the timeout to send: none unless given.
func (o *stopOptions) timeoutOf(cmd *cobra.Command) (*int, error) {
	f := cmd.Flags()
	if f.Changed("time") && f.Changed("timeout") {
		return nil, errors.New("conflicting options: cannot specify both --timeout and --time")
	}
	if f.Changed("time") || f.Changed("timeout") {
		t := o.timeout
		return &t, nil
	}
	return nil, nil
}

func newStopCommand() *cobra.Command {
	var o stopOptions
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Args:  requiresMinArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			timeout, err := o.timeoutOf(cmd)
			if err != nil {
				return err
			}
			return forEach(ctx, cmd, args, func(ctx context.Context, name string) error {
				_, err := api.ContainerStop(ctx, name, apiclient.ContainerStopOptions{Signal: o.signal, Timeout: timeout})
				return err
			})
		}),
	}
	o.addFlags(cmd)
	return cmd
}

func newRestartCommand() *cobra.Command {
	var o stopOptions
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  requiresMinArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			timeout, err := o.timeoutOf(cmd)
			if err != nil {
				return err
			}
			// One at a time, as the docker CLI does.
			var errs []error
			for _, name := range args {
				if _, err := api.ContainerRestart(ctx, name, apiclient.ContainerRestartOptions{Signal: o.signal, Timeout: timeout}); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), name)
			}
			return errors.Join(errs...)
		}),
	}
	o.addFlags(cmd)
	return cmd
}

func newKillCommand() *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  requiresMinArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			return forEach(ctx, cmd, args, func(ctx context.Context, name string) error {
				_, err := api.ContainerKill(ctx, name, apiclient.ContainerKillOptions{Signal: signal})
				return err
			})
		}),
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func newPauseCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER [CONTAINER...]",
		Short: "Pause all processes within one or more containers",
		Args:  requiresMinArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			return forEach(ctx, cmd, args, func(ctx context.Context, name string) error {
				_, err := api.ContainerPause(ctx, name, apiclient.ContainerPauseOptions{})
				return err
			})
		}),
	}
}

func newUnpauseCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "unpause CONTAINER [CONTAINER...]",
		Short: "Unpause all processes within one or more containers",
		Args:  requiresMinArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			return forEach(ctx, cmd, args, func(ctx context.Context, name string) error {
				_, err := api.ContainerUnpause(ctx, name, apiclient.ContainerUnpauseOptions{})
				return err
			})
		}),
	}
}

type rmOptions struct {
	force, volumes, links bool
}

func newRmCommand(use string, aliases ...string) *cobra.Command {
	var o rmOptions
	cmd := &cobra.Command{
		Use:     use + " [OPTIONS] CONTAINER [CONTAINER...]",
		Aliases: aliases,
		Short:   "Remove one or more containers",
		Args:    requiresMinArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			err := forEach(ctx, cmd, args, func(ctx context.Context, name string) error {
				name = strings.Trim(name, "/")
				if name == "" {
					return errors.New("container name cannot be empty")
				}
				_, err := api.ContainerRemove(ctx, name, apiclient.ContainerRemoveOptions{
					RemoveVolumes: o.volumes, RemoveLinks: o.links, Force: o.force,
				})
				// rm -f of what does not exist is not an error.
				if o.force && cerrdefs.IsNotFound(err) {
					return errSkip
				}
				return err
			})
			return withoutSkips(err)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&o.volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	f.BoolVarP(&o.links, "link", "l", false, "Remove the specified link")
	f.BoolVarP(&o.force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	return cmd
}

// errSkip marks an operation of forEach that neither failed nor printed.
var errSkip = errors.New("skip")

func withoutSkips(err error) error {
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		if errors.Is(err, errSkip) {
			return nil
		}
		return err
	}
	var keep []error
	for _, e := range joined.Unwrap() {
		if e != errSkip {
			keep = append(keep, e)
		}
	}
	return errors.Join(keep...)
}

func newWaitCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  requiresMinArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			var errs []error
			for _, name := range args {
				res := api.ContainerWait(ctx, name, apiclient.ContainerWaitOptions{})
				select {
				case r := <-res.Result:
					fmt.Fprintln(cmd.OutOrStdout(), strconv.FormatInt(r.StatusCode, 10))
				case err := <-res.Error:
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		}),
	}
}

func newRenameCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  exactArgs(2),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			if _, err := api.ContainerRename(ctx, args[0], apiclient.ContainerRenameOptions{NewName: args[1]}); err != nil {
				if apiclient.IsErrConnectionFailed(err) {
					return err
				}
				return fmt.Errorf("failed to rename container: %w", err)
			}
			return nil
		}),
	}
}

func newTopCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  requiresMinArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			list, err := api.ContainerTop(ctx, args[0], apiclient.ContainerTopOptions{Arguments: args[1:]})
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 20, 1, 3, ' ', 0)
			fmt.Fprintln(w, strings.Join(list.Titles, "\t"))
			for _, p := range list.Processes {
				fmt.Fprintln(w, strings.Join(p, "\t"))
			}
			return w.Flush()
		}),
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}
