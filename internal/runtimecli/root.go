// Package runtimecli is `gantry runtime`: runc's command line over package
// runtime, with runc's flags, output and exit codes, so that containerd's
// runc shim, the OCI validation tools and people used to runc can drive it.
package runtimecli

import (
	"errors"
	"fmt"
	"os"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/gantry-dev/gantry/internal/runtime"
)

// globals are the flags every runtime command takes.
type globals struct {
	root          string
	log           string
	logFormat     string
	debug         bool
	systemdCgroup bool
	rootless      string
}

func (g *globals) runtime() (*runtime.Runtime, error) {
	return runtime.New(g.root, runtime.WithSystemdCgroup(g.systemdCgroup))
}

// ExitError carries a status the command must exit with, after printing
// nothing more (run and exec exit with the container process's status).
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// failure is an error with the exit code runc uses for it.
type failure struct {
	err  error
	code int
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// NewCommand returns `gantry runtime` and its subcommands.
func NewCommand() *cobra.Command {
	g := &globals{}
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "Run OCI bundles directly, with runc's command line",
		Long: `gantry runtime is an OCI runtime with runc's command line: it runs a
bundle (a directory with config.json and a root filesystem) as a container.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.configureLog()
		},
	}
	f := cmd.PersistentFlags()
	f.StringVar(&g.root, "root", runtime.DefaultRoot, "root directory for storage of container state (this should be located in tmpfs)")
	f.StringVar(&g.log, "log", "", "set the log file to write runtime logs to (default is '/dev/stderr')")
	f.StringVar(&g.logFormat, "log-format", "text", "set the log format ('text' (default), or 'json')")
	f.BoolVar(&g.debug, "debug", false, "enable debug logging")
	f.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "enable systemd cgroup support, expects cgroupsPath to be of form \"slice:prefix:name\"")
	f.StringVar(&g.rootless, "rootless", "auto", "accepted for runc compatibility; gantry decides rootless cgroups from the effective user ID")

	cmd.AddCommand(
		newSpecCommand(g),
		newCreateCommand(g),
		newStartCommand(g),
		newRunCommand(g),
		newStateCommand(g),
		newKillCommand(g),
		newDeleteCommand(g),
		newExecCommand(g),
		newPsCommand(g),
		newListCommand(g),
		newPauseCommand(g),
		newResumeCommand(g),
		newUpdateCommand(g),
		newEventsCommand(g),
		newFeaturesCommand(g),
	)
	return cmd
}

func (g *globals) configureLog() error {
	if g.debug {
		logrus.SetLevel(logrus.DebugLevel)
	}
	switch g.logFormat {
	case "", "text":
	case "json":
		logrus.SetFormatter(new(logrus.JSONFormatter))
	default:
		return fmt.Errorf("invalid --log-format %q: use text or json", g.logFormat)
	}
	if g.log != "" {
		f, err := os.OpenFile(g.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("open log file: %w", err)
		}
		logrus.SetOutput(f)
	}
	return nil
}

// Report prints a failed command's error the way runc does, to the log (which
// containerd reads) and to stderr, and returns the exit code.
func Report(prog string, err error) int {
	var exit *ExitError
	if errors.As(err, &exit) {
		return exit.Code
	}
	code := 1
	var f *failure
	if errors.As(err, &f) {
		code = f.code
	}
	logToStderr := false
	if out, ok := logrus.StandardLogger().Out.(*os.File); ok && out.Fd() == os.Stderr.Fd() {
		logToStderr = true
	}
	if !logToStderr {
		logrus.Error(err)
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
	return code
}

// exactArgs and friends give runc's usage errors.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%q requires exactly %d argument(s)", cmd.Name(), n)
		}
		return nil
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return fmt.Errorf("%q requires a minimum of %d argument(s)", cmd.Name(), n)
		}
		return nil
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return fmt.Errorf("%q requires %d to %d argument(s)", cmd.Name(), lo, hi)
		}
		return nil
	}
}
