package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
)

type startOptions struct {
	attach, interactive bool
	detachKeys          string
}

func newStartCommand() *cobra.Command {
	var o startOptions
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  requiresMinArgs(1),
		RunE: command(func(cmd *cobra.Command, args []string) error {
			return runStart(cmd, args, &o)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&o.attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	f.BoolVarP(&o.interactive, "interactive", "i", false, "Attach container's STDIN")
	f.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

func runStart(cmd *cobra.Command, names []string, o *startOptions) error {
	keys, err := parseDetachKeys(o.detachKeys)
	if err != nil {
		return err
	}
	if (o.attach || o.interactive) && len(names) > 1 {
		return errors.New("you cannot start and attach multiple containers at once")
	}
	ctx := cmd.Context()
	api, err := newAPIClient(ctx, cmd)
	if err != nil {
		return err
	}
	defer api.Close()
	if !o.attach && !o.interactive {
		var failed []string
		for _, name := range names {
			if _, err := api.ContainerStart(ctx, name, apiclient.ContainerStartOptions{}); err != nil {
				if l, ok := connError(err, api.host); ok {
					fmt.Fprintln(cmd.ErrOrStderr(), l)
				} else {
					fmt.Fprintln(cmd.ErrOrStderr(), errorText(err))
				}
				failed = append(failed, name)
				continue
			}
			fmt.Fprintln(cmd.OutOrStdout(), name)
		}
		if len(failed) > 0 {
			return fmt.Errorf("failed to start containers: %s", strings.Join(failed, ", "))
		}
		return nil
	}

	info, err := api.ContainerInspect(ctx, names[0], apiclient.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	c := info.Container
	ctx = context.WithoutCancel(ctx)
	stopProxy := func() {}
	if !c.Config.Tty {
		stopProxy = proxySignals(ctx, api, c.ID)
		defer stopProxy()
	}
	stdin, stdout, stderr := cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	withStdin := o.interactive && c.Config.OpenStdin
	resp, err := api.ContainerAttach(ctx, c.ID, apiclient.ContainerAttachOptions{
		Stream: true, Stdin: withStdin, Stdout: true, Stderr: true, DetachKeys: o.detachKeys,
	})
	if err != nil {
		return err
	}
	defer resp.Close()
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := streams{out: stdout, err: stderr, tty: c.Config.Tty, detachKeys: keys}
	if withStdin {
		s.in = stdin
	}
	errC := make(chan error, 1)
	go func() { errC <- s.stream(streamCtx, &resp.HijackedResponse) }()
	statusC := waitExit(ctx, api, c.ID, c.HostConfig != nil && c.HostConfig.AutoRemove, stderr)
	if _, err := api.ContainerStart(ctx, c.ID, apiclient.ContainerStartOptions{}); err != nil {
		stopProxy()
		cancel()
		resp.Close()
		<-errC
		if c.HostConfig != nil && c.HostConfig.AutoRemove {
			awaitRemoval(statusC)
		}
		return err
	}
	if c.Config.Tty && isTerminal(stdout) {
		monitorTTYSize(streamCtx, stdout, stderr, containerResizer(api, c.ID))
	}
	if err := <-errC; err != nil {
		if errors.Is(err, errDetached) {
			return nil
		}
		return err
	}
	return exitStatus(<-statusC)
}

type attachOptions struct {
	noStdin    bool
	sigProxy   bool
	detachKeys string
}

func newAttachCommand() *cobra.Command {
	var o attachOptions
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  exactArgs(1),
		RunE: command(func(cmd *cobra.Command, args []string) error {
			return runAttach(cmd, args[0], &o)
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&o.noStdin, "no-stdin", false, "Do not attach STDIN")
	f.BoolVar(&o.sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	f.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// attachable refuses containers that are not running.
func attachable(c container.InspectResponse) error {
	switch {
	case c.State == nil || !c.State.Running:
		return errors.New("cannot attach to a stopped container, start it first")
	case c.State.Paused:
		return errors.New("cannot attach to a paused container, unpause it first")
	case c.State.Restarting:
		return errors.New("cannot attach to a restarting container, wait until it is running")
	}
	return nil
}

func runAttach(cmd *cobra.Command, name string, o *attachOptions) error {
	keys, err := parseDetachKeys(o.detachKeys)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	api, err := newAPIClient(ctx, cmd)
	if err != nil {
		return err
	}
	defer api.Close()
	waitRes := api.ContainerWait(context.WithoutCancel(ctx), name, apiclient.ContainerWaitOptions{})
	info, err := api.ContainerInspect(ctx, name, apiclient.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	c := info.Container
	if err := attachable(c); err != nil {
		return err
	}
	stdin, stdout, stderr := cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	if err := checkTTY(stdin, !o.noStdin, c.Config.Tty); err != nil {
		return err
	}
	withStdin := !o.noStdin && c.Config.OpenStdin
	if o.sigProxy && !c.Config.Tty {
		defer proxySignals(context.WithoutCancel(ctx), api, c.ID)()
	}
	resp, err := api.ContainerAttach(ctx, c.ID, apiclient.ContainerAttachOptions{
		Stream: true, Stdin: withStdin, Stdout: true, Stderr: true, DetachKeys: o.detachKeys,
	})
	if err != nil {
		return err
	}
	defer resp.Close()
	if again, err := api.ContainerInspect(ctx, c.ID, apiclient.ContainerInspectOptions{}); err != nil {
		return err
	} else if err := attachable(again.Container); err != nil {
		return err
	}
	if c.Config.Tty && isTerminal(stdout) {
		// Nudge the size so that the program redraws, then the real one.
		h, w := ttySize(stdout)
		_ = containerResizer(api, c.ID)(ctx, h+1, w+1)
		monitorTTYSize(ctx, stdout, stderr, containerResizer(api, c.ID))
	}
	s := streams{out: stdout, err: stderr, tty: c.Config.Tty, detachKeys: keys}
	if withStdin {
		s.in = stdin
	}
	if err := s.stream(ctx, &resp.HijackedResponse); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return waitStatus(waitRes)
}

// waitStatus turns a wait's result into the command's exit.
func waitStatus(res apiclient.ContainerWaitResult) error {
	select {
	case r := <-res.Result:
		if r.Error != nil {
			return errors.New(r.Error.Message)
		}
		return exitStatus(int(r.StatusCode))
	case err := <-res.Error:
		return err
	}
}
