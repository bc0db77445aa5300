package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
	"github.com/gantry-dev/gantry/internal/image"
	"github.com/gantry-dev/gantry/internal/registry"
)

// Pull policies of run and create.
const (
	pullAlways  = "always"
	pullMissing = "missing"
	pullNever   = "never"
)

// createOptions are the flags of create that are not container settings.
type createOptions struct {
	name     string
	pull     string
	platform string
	quiet    bool
}

func (o *createOptions) addFlags(f *pflag.FlagSet, verb string) {
	f.StringVar(&o.name, "name", "", "Assign a name to the container")
	f.StringVar(&o.pull, "pull", pullMissing, `Pull image before `+verb+` ("always", "missing", "never")`)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the pull output")
	f.StringVar(&o.platform, "platform", os.Getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	// -h is --hostname here, as in docker: --help has no shorthand.
	f.Bool("help", false, "Print usage")
}

// validate checks what create can check without the daemon.
func (o *createOptions) validate() error {
	switch o.pull {
	case pullAlways, pullMissing, pullNever, "":
	default:
		return fmt.Errorf("invalid pull option: '%s': must be one of %q, %q or %q", o.pull, pullAlways, pullMissing, pullNever)
	}
	if o.platform != "" {
		if _, err := parsePlatform(o.platform); err != nil {
			return err
		}
	}
	return nil
}

func newCreateCommand() *cobra.Command {
	var o createOptions
	var co *containerOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  requiresMinArgs(1),
		RunE: commandStatus(125, "gantry: ", func(cmd *cobra.Command, args []string) error {
			co.image, co.args = args[0], args[1:]
			return runCreate(cmd, &o, co)
		}),
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	o.addFlags(f, "creating")
	co = addContainerFlags(f)
	return cmd
}

func runCreate(cmd *cobra.Command, o *createOptions, co *containerOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	cfg, err := co.parse(cmd.Flags())
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	api, err := newAPIClient(ctx, cmd)
	if err != nil {
		return err
	}
	defer api.Close()
	id, err := createContainer(ctx, api, cmd, cfg, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), id)
	return nil
}

// createContainer creates the container, pulling its image first with
// --pull=always, or when it is missing with --pull=missing, as Docker does.
func createContainer(ctx context.Context, api *apiClient, cmd *cobra.Command, cfg *containerConfig, o *createOptions) (string, error) {
	stderr := cmd.ErrOrStderr()
	var platform *platform
	if o.platform != "" {
		p, _ := parsePlatform(o.platform)
		platform = &p
	}
	cid, err := newCIDFile(cfg.HostConfig.ContainerIDFile)
	if err != nil {
		return "", err
	}
	defer cid.close()
	if o.pull == pullAlways {
		if err := pullImage(ctx, api, cfg.Config.Image, platform, o.quiet, stderr); err != nil {
			return "", err
		}
	}
	cfg.HostConfig.ConsoleSize[0], cfg.HostConfig.ConsoleSize[1] = ttySize(cmd.OutOrStdout())
	req := apiclient.ContainerCreateOptions{
		Name: o.name, Platform: platform,
		Config: cfg.Config, HostConfig: cfg.HostConfig, NetworkingConfig: cfg.NetworkingConfig,
	}
	resp, err := api.ContainerCreate(ctx, req)
	if err != nil {
		ref, refErr := registry.ParseReference(cfg.Config.Image)
		if !cerrdefs.IsNotFound(err) || o.pull != pullMissing || refErr != nil || isImageID(cfg.Config.Image) {
			return "", err
		}
		if !o.quiet {
			fmt.Fprintf(stderr, "Unable to find image '%s' locally\n", ref.Familiar())
		}
		if err := pullImage(ctx, api, cfg.Config.Image, platform, o.quiet, stderr); err != nil {
			return "", err
		}
		if resp, err = api.ContainerCreate(ctx, req); err != nil {
			return "", err
		}
	}
	for _, w := range resp.Warnings {
		fmt.Fprintln(stderr, "WARNING:", w)
	}
	return resp.ID, cid.write(resp.ID)
}

// isImageID reports whether s names an image by ID (which cannot be
// pulled): a full hex ID, with or without "sha256:".
func isImageID(s string) bool {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// pullImage pulls through the daemon and shows its progress on stderr.
func pullImage(ctx context.Context, api *apiClient, ref string, p *platform, quiet bool, stderr io.Writer) error {
	opts := apiclient.ImagePullOptions{}
	if p != nil {
		opts.Platforms = append(opts.Platforms, *p)
	}
	named, err := registry.ParseReference(ref)
	if err != nil {
		return err
	}
	resp, err := api.ImagePull(ctx, named.String(), opts)
	if err != nil {
		return err
	}
	defer resp.Close()
	var show func(image.Progress)
	if !quiet {
		show = newProgressPrinter(stderr).update
	}
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return err
		}
		if msg.Error != nil {
			return errors.New(msg.Error.Message)
		}
		if show == nil || (msg.Status == "" && msg.Stream == "") {
			continue
		}
		if msg.Stream != "" {
			fmt.Fprint(stderr, msg.Stream)
			continue
		}
		ev := image.Progress{ID: msg.ID, Status: msg.Status}
		if msg.Progress != nil {
			ev.Current, ev.Total = msg.Progress.Current, msg.Progress.Total
		}
		show(ev)
	}
	return nil
}

// cidFile is --cidfile: created before the container, removed if no ID
// was written to it.
type cidFile struct {
	path    string
	f       *os.File
	written bool
}

func newCIDFile(path string) (*cidFile, error) {
	if path == "" {
		return &cidFile{}, nil
	}
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", path)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("failed to create the container ID file: %w", err)
	}
	return &cidFile{path: path, f: f}, nil
}

func (c *cidFile) write(id string) error {
	if c.f == nil {
		return nil
	}
	if _, err := c.f.WriteString(id); err != nil {
		return fmt.Errorf("failed to write the container ID (%s) to file: %w", id, err)
	}
	c.written = true
	return nil
}

func (c *cidFile) close() {
	if c.f == nil {
		return
	}
	c.f.Close()
	if !c.written {
		os.Remove(c.path)
	}
}

// runOptions are run's own flags.
type runOptions struct {
	createOptions
	detach     bool
	sigProxy   bool
	detachKeys string
}

func newRunCommand() *cobra.Command {
	var o runOptions
	var co *containerOptions
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  requiresMinArgs(1),
		RunE: commandStatus(125, "gantry: ", func(cmd *cobra.Command, args []string) error {
			co.image, co.args = args[0], args[1:]
			return runRun(cmd, &o, co)
		}),
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.detach, "detach", "d", false, "Run container in background and print container ID")
	f.BoolVar(&o.sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	f.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	o.createOptions.addFlags(f, "running")
	co = addContainerFlags(f)
	return cmd
}

// runRun is Docker's run: create (pulling if needed), attach before start,
// wait (for removal with --rm) before start, start, stream, and exit with
// the container's status.
func runRun(cmd *cobra.Command, o *runOptions, co *containerOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	cfg, err := co.parse(cmd.Flags())
	if err != nil {
		return err
	}
	config := cfg.Config
	config.ArgsEscaped = false
	stdin, stdout, stderr := cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	if o.detach {
		if co.attach.Len() != 0 {
			return &statusError{1, "conflicting options: cannot specify both --attach and --detach"}
		}
		config.AttachStdin, config.AttachStdout, config.AttachStderr, config.StdinOnce = false, false, false, false
	} else if err := checkTTY(stdin, config.AttachStdin, config.Tty); err != nil {
		return &statusError{1, err.Error()}
	}
	keys, err := parseDetachKeys(o.detachKeys)
	if err != nil {
		return err
	}

	// Signals are forwarded, not obeyed: the streams must outlive them.
	ctx := context.WithoutCancel(cmd.Context())
	api, err := newAPIClient(ctx, cmd)
	if err != nil {
		return err
	}
	defer api.Close()
	id, err := createContainer(ctx, api, cmd, cfg, &o.createOptions)
	if err != nil {
		return startError(err)
	}
	attach := config.AttachStdin || config.AttachStdout || config.AttachStderr
	stopProxy := func() {}
	// A detached run ends at the start: there is nothing to forward to.
	if o.sigProxy && attach {
		stopProxy = proxySignals(ctx, api, id)
		defer stopProxy()
	}

	if !attach {
		// As Docker: the ID first, then whatever start says.
		fmt.Fprintln(stdout, id)
		if _, err := api.ContainerStart(ctx, id, apiclient.ContainerStartOptions{}); err != nil {
			return startError(err)
		}
		return nil
	}

	streamCtx, cancelStream := context.WithCancel(ctx)
	defer cancelStream()
	// Attach and wait are independent; both must be in place before start.
	type attached struct {
		resp apiclient.ContainerAttachResult
		err  error
	}
	attachC := make(chan attached, 1)
	go func() {
		resp, err := api.ContainerAttach(streamCtx, id, apiclient.ContainerAttachOptions{
			Stream: true, Stdin: config.AttachStdin, Stdout: config.AttachStdout, Stderr: config.AttachStderr,
			DetachKeys: o.detachKeys,
		})
		attachC <- attached{resp, err}
	}()
	statusC := waitExit(ctx, api, id, co.autoRemove, stderr)
	a := <-attachC
	if a.err != nil {
		return a.err
	}
	defer a.resp.Close()
	s := streams{tty: config.Tty, detachKeys: keys}
	if config.AttachStdin {
		s.in = stdin
	}
	if config.AttachStdout {
		s.out = stdout
	}
	if config.AttachStderr {
		s.err = stderr
		if config.Tty {
			s.err = stdout
		}
	}
	errC := make(chan error, 1)
	go func() { errC <- s.stream(streamCtx, &a.resp.HijackedResponse) }()

	if _, err := api.ContainerStart(ctx, id, apiclient.ContainerStartOptions{}); err != nil {
		stopProxy() // nothing runs to take signals
		cancelStream()
		a.resp.Close()
		<-errC
		if co.autoRemove {
			awaitRemoval(statusC)
		}
		return startError(err)
	}
	if config.Tty && isTerminal(stdout) {
		monitorTTYSize(streamCtx, stdout, stderr, containerResizer(api, id))
	}

	select {
	case err := <-errC:
		if err != nil {
			if errors.Is(err, errDetached) {
				return nil
			}
			return &statusError{1, err.Error()}
		}
		return exitStatus(<-statusC)
	case status := <-statusC:
		// The output may still be draining; without stdout and stderr
		// there is nothing to wait for.
		if !config.AttachStdout && !config.AttachStderr {
			cancelStream()
			a.resp.Close()
		}
		<-errC
		return exitStatus(status)
	}
}

// awaitRemoval waits, after a failed start, for the daemon to remove an
// --rm container, as the docker CLI does, but not forever.
func awaitRemoval(statusC <-chan int) {
	select {
	case <-statusC:
	case <-time.After(5 * time.Second):
	}
}

func exitStatus(status int) error {
	if status == 0 {
		return nil
	}
	return &exitCode{status}
}

// waitExit waits for the container's next exit (or its removal, with
// --rm) and delivers the status; 125 when waiting failed. The request is
// made before it returns, so that it is in place before a start.
func waitExit(ctx context.Context, api *apiClient, id string, removed bool, stderr io.Writer) <-chan int {
	cond := container.WaitConditionNextExit
	if removed {
		cond = container.WaitConditionRemoved
	}
	res := api.ContainerWait(ctx, id, apiclient.ContainerWaitOptions{Condition: cond})
	out := make(chan int, 1)
	go func() {
		select {
		case r := <-res.Result:
			if r.Error != nil {
				fmt.Fprintf(stderr, "Error waiting for container: %v\n", r.Error.Message)
				out <- 125
				return
			}
			out <- int(r.StatusCode)
		case err := <-res.Error:
			if errors.Is(err, context.Canceled) {
				return
			}
			fmt.Fprintf(stderr, "error waiting for container: %v\n", err)
			out <- 125
		}
	}()
	return out
}

// startError gives a failed create or start Docker's status: 127 when the
// command was not found, 126 when it could not be invoked, else 125.
func startError(err error) error {
	if apiclient.IsErrConnectionFailed(err) || isDialError(err) {
		return err // reported by commandStatus, with the host
	}
	return &statusError{startStatus(err), "gantry: " + errorText(err)}
}

func startStatus(err error) int {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory") ||
		strings.Contains(msg, "system cannot find the file specified"):
		return 127
	case strings.Contains(msg, syscall.EACCES.Error()) || strings.Contains(msg, syscall.EISDIR.Error()):
		return 126
	}
	return 125
}
