package cli

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
	"github.com/gantry-dev/gantry/internal/flagvalue"
)

type execOptions struct {
	detachKeys               string
	interactive, tty, detach bool
	user, workdir            string
	privileged               bool
	env, envFile             flagvalue.ListOpts
}

func newExecCommand() *cobra.Command {
	o := execOptions{env: flagvalue.NewListOpts(flagvalue.ValidateEnv), envFile: flagvalue.NewListOpts(nil)}
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  requiresMinArgs(2),
		RunE: command(func(cmd *cobra.Command, args []string) error {
			return runExec(cmd, args[0], args[1:], &o)
		}),
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	f.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	f.BoolVarP(&o.detach, "detach", "d", false, "Detached mode: run command in the background")
	f.StringVarP(&o.user, "user", "u", "", `Username or UID (format: "<name|uid>[:<group|gid>]")`)
	f.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to the command")
	f.VarP(&o.env, "env", "e", "Set environment variables")
	f.Var(&o.envFile, "env-file", "Read in a file of environment variables")
	f.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	return cmd
}

// execConfig is the exec create request the flags ask for.
func (o *execOptions) execConfig(command []string) (apiclient.ExecCreateOptions, error) {
	c := apiclient.ExecCreateOptions{
		User: o.user, Privileged: o.privileged, TTY: o.tty, Cmd: command, WorkingDir: o.workdir,
		DetachKeys: o.detachKeys,
	}
	env, err := flagvalue.ReadKVEnvStrings(o.envFile.GetSlice(), o.env.GetSlice())
	if err != nil {
		return c, err
	}
	c.Env = env
	if !o.detach {
		c.AttachStdout, c.AttachStderr = true, true
		c.AttachStdin = o.interactive
	}
	return c, nil
}

// runExec creates the exec, starts it attached (or detached with -d) and
// exits with its status, which the daemon records: 126 when the command
// cannot be invoked, 127 when it is not found.
func runExec(cmd *cobra.Command, name string, command []string, o *execOptions) error {
	cfg, err := o.execConfig(command)
	if err != nil {
		return err
	}
	keys, err := parseDetachKeys(o.detachKeys)
	if err != nil {
		return err
	}
	stdin, stdout, stderr := cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	if !o.detach {
		if err := checkTTY(stdin, cfg.AttachStdin, cfg.TTY); err != nil {
			return err
		}
	}
	if cfg.TTY {
		cfg.ConsoleSize.Height, cfg.ConsoleSize.Width = ttySize(stdout)
	}
	ctx := cmd.Context()
	api, err := newAPIClient(ctx, cmd)
	if err != nil {
		return err
	}
	defer api.Close()
	created, err := api.ExecCreate(ctx, name, cfg)
	if err != nil {
		return err
	}
	if created.ID == "" {
		return errors.New("exec ID empty")
	}
	if o.detach {
		_, err := api.ExecStart(ctx, created.ID, apiclient.ExecStartOptions{Detach: true, TTY: cfg.TTY, ConsoleSize: cfg.ConsoleSize})
		return err
	}
	ctx = context.WithoutCancel(ctx)
	resp, err := api.ExecAttach(ctx, created.ID, apiclient.ExecAttachOptions{TTY: cfg.TTY, ConsoleSize: cfg.ConsoleSize})
	if err != nil {
		return err
	}
	defer resp.Close()
	s := streams{out: stdout, err: stderr, tty: cfg.TTY, detachKeys: keys}
	if cfg.TTY {
		s.err = stdout
	}
	if cfg.AttachStdin {
		s.in = stdin
	}
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errC := make(chan error, 1)
	go func() { errC <- s.stream(streamCtx, &resp.HijackedResponse) }()
	if cfg.TTY && isTerminal(stdin) {
		monitorTTYSize(streamCtx, stdout, stderr, execResizer(api, created.ID))
	}
	if err := <-errC; err != nil {
		return err
	}
	res, err := api.ExecInspect(ctx, created.ID, apiclient.ExecInspectOptions{})
	if err != nil {
		if apiclient.IsErrConnectionFailed(err) {
			return &exitCode{255}
		}
		return err
	}
	return exitStatus(res.ExitCode)
}
