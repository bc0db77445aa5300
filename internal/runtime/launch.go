package runtime

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/system"
	"github.com/opencontainers/runc/libcontainer/utils"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/atomicfile"
	"github.com/gantry-dev/gantry/internal/errdefs"
)

// CreateOptions are the flags shared by create and run.
type CreateOptions struct {
	Bundle        string
	PidFile       string
	ConsoleSocket string
	NoPivot       bool
	NoNewKeyring  bool
	PreserveFDs   int
}

// RunOptions add run's own flags.
type RunOptions struct {
	CreateOptions
	Detach      bool
	NoSubreaper bool
	Keep        bool // keep the container's state after it exits
}

// ExecOptions are exec's flags; the process itself is a spec.Process.
type ExecOptions struct {
	Detach        bool
	PidFile       string
	ConsoleSocket string
	PreserveFDs   int
	SubCgroups    map[string]string
	IgnorePaused  bool
}

// Create sets the container up and leaves its init waiting for Start.
func (r *Runtime) Create(ctx context.Context, id string, opts CreateOptions) error {
	c, spec, err := r.createFromBundle(id, opts, true)
	if err != nil {
		return err
	}
	l := &launch{
		container: c, init: true, detach: true, destroyOnError: true,
		consoleSocket: opts.ConsoleSocket, pidFile: opts.PidFile, preserveFDs: opts.PreserveFDs,
		start: c.Start,
	}
	_, err = l.do(spec.Process)
	return err
}

// Run creates and starts the container. Attached, it forwards signals, waits
// for the init to exit, deletes the container and returns the exit status.
func (r *Runtime) Run(ctx context.Context, id string, opts RunOptions) (int, error) {
	c, spec, err := r.createFromBundle(id, opts.CreateOptions, opts.Detach)
	if err != nil {
		return -1, err
	}
	l := &launch{
		container: c, init: true, detach: opts.Detach, destroyOnError: true,
		destroyOnExit: !opts.Keep, subreaper: !opts.NoSubreaper,
		consoleSocket: opts.ConsoleSocket, pidFile: opts.PidFile, preserveFDs: opts.PreserveFDs,
		start: func(p *libcontainer.Process) error {
			// Create, then Start: the poststart hooks run in between.
			if err := c.Start(p); err != nil {
				return err
			}
			return r.startCreated(c)
		},
	}
	return l.do(spec.Process)
}

// Exec runs p in a running container's namespaces and cgroup.
func (r *Runtime) Exec(ctx context.Context, id string, p *specs.Process, opts ExecOptions) (int, error) {
	c, err := r.load(id)
	if err != nil {
		return -1, err
	}
	status, err := c.Status()
	if err != nil {
		return -1, err
	}
	switch {
	case status == libcontainer.Stopped:
		return -1, errdefs.Conflict("cannot exec in a stopped container")
	case status == libcontainer.Paused && !opts.IgnorePaused:
		return -1, errdefs.Conflict("cannot exec in a paused container (use --ignore-paused to override)")
	}
	if err := ValidateProcess(p); err != nil {
		return -1, err
	}
	l := &launch{
		container: c, detach: opts.Detach, subCgroups: opts.SubCgroups,
		consoleSocket: opts.ConsoleSocket, pidFile: opts.PidFile, preserveFDs: opts.PreserveFDs,
		start: c.Run,
	}
	return l.do(p)
}

// ProcessTemplate is the container's own process from its bundle, the base
// exec builds on when it is given arguments rather than a process file.
func (r *Runtime) ProcessTemplate(id string) (*specs.Process, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	bundle, ok := utils.SearchLabels(c.Config().Labels, "bundle")
	if !ok {
		return nil, fmt.Errorf("container %q has no bundle label", id)
	}
	spec, _, err := LoadBundle(bundle)
	if err != nil {
		return nil, err
	}
	if spec.Process == nil {
		return nil, errdefs.Invalid("bundle %s has no process to base the exec on: use --process", bundle)
	}
	return spec.Process, nil
}

func (r *Runtime) createFromBundle(id string, opts CreateOptions, detach bool) (*libcontainer.Container, *specs.Spec, error) {
	if err := validateID(id); err != nil {
		return nil, nil, err
	}
	spec, bundle, err := LoadBundle(opts.Bundle)
	if err != nil {
		return nil, nil, err
	}
	if spec.Process == nil {
		return nil, nil, errdefs.Invalid("config.json has no process: name the program to run")
	}
	if err := checkConsole(spec.Process.Terminal, detach, opts.ConsoleSocket); err != nil {
		return nil, nil, err
	}
	c, err := r.create(id, spec, bundle, opts)
	if err != nil {
		return nil, nil, err
	}
	return c, spec, nil
}

func checkConsole(terminal, detach bool, socket string) error {
	if detach && terminal && socket == "" {
		return errdefs.Invalid("a detached process with a terminal needs --console-socket to receive the terminal")
	}
	if (!detach || !terminal) && socket != "" {
		return errdefs.Invalid("--console-socket is only for a detached process with a terminal")
	}
	return nil
}

// launch starts one process in a container: the init (create, run) or an
// extra one (exec).
type launch struct {
	container      *libcontainer.Container
	init           bool
	detach         bool
	subreaper      bool
	destroyOnError bool
	destroyOnExit  bool
	consoleSocket  string
	pidFile        string
	preserveFDs    int
	subCgroups     map[string]string
	start          func(*libcontainer.Process) error
}

func (l *launch) do(spec *specs.Process) (status int, err error) {
	defer func() {
		if err != nil {
			err = programError(err)
			if l.destroyOnError {
				l.destroy()
			}
		}
	}()
	if err := checkConsole(spec.Terminal, l.detach, l.consoleSocket); err != nil {
		return -1, err
	}
	p, err := newProcess(spec)
	if err != nil {
		return -1, err
	}
	p.Init = l.init
	p.SubCgroupPaths = l.subCgroups
	p.LogLevel = strconv.Itoa(int(logrus.GetLevel()))
	for fd := 3; fd < 3+l.preserveFDs; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return -1, errdefs.Invalid("--preserve-fds=%d but fd %d is not open", l.preserveFDs, fd)
		}
		p.ExtraFiles = append(p.ExtraFiles, os.NewFile(uintptr(fd), "preserved-fd-"+strconv.Itoa(fd)))
	}

	// Signals are caught before the process exists so none is lost.
	// Releasing every signal takes one round trip per signal to the Go
	// runtime's signal thread (1-4 ms on a small VM): it is left to the
	// background, where the command line's exit cuts it short. (Catching
	// them in the background too was slower: the command line runs on one
	// P, which the round trips then take from the set-up.)
	var signals chan os.Signal
	if !l.detach {
		if l.subreaper {
			if err := system.SetSubreaper(1); err != nil {
				logrus.Warn(err)
			}
		}
		signals = make(chan os.Signal, 2048)
		signal.Notify(signals)
		defer func() { go signal.Stop(signals) }()
	}

	io, err := setupStdio(p, l.container, spec.Terminal, l.detach, l.consoleSocket)
	if err != nil {
		return -1, err
	}
	defer io.Close()

	if err := l.start(p); err != nil {
		return -1, err
	}
	if err := io.waitConsole(); err != nil {
		l.terminate(p)
		return -1, err
	}
	io.closeAfterStart()
	if l.pidFile != "" {
		pid, _ := p.Pid()
		if err := writePidFile(l.pidFile, pid); err != nil {
			l.terminate(p)
			return -1, err
		}
	}
	if l.detach {
		return 0, nil
	}
	status, err = forward(p, io, signals)
	if err != nil {
		l.terminate(p)
		return -1, err
	}
	if l.destroyOnExit {
		l.destroy()
	}
	return status, nil
}

func (l *launch) destroy() {
	if err := l.container.Destroy(); err != nil {
		logrus.Warn(err)
	}
}

func (l *launch) terminate(p *libcontainer.Process) {
	_ = p.Signal(unix.SIGKILL)
	_, _ = p.Wait()
}

// forward passes our signals to the process, resizes its terminal with ours,
// reaps children (we may be their subreaper) and returns the process's exit
// status.
func forward(p *libcontainer.Process, io *stdio, signals chan os.Signal) (int, error) {
	pid, err := p.Pid()
	if err != nil {
		return -1, err
	}
	io.resize()
	for s := range signals {
		switch s {
		case unix.SIGWINCH:
			io.resize()
		case unix.SIGCHLD:
			for {
				var ws unix.WaitStatus
				child, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
				if err != nil || child <= 0 {
					break
				}
				if child == pid {
					_, _ = p.Wait()
					return utils.ExitStatus(ws), nil
				}
			}
		case unix.SIGURG:
			// The Go runtime's preemption signal, not meant for the container.
		default:
			if err := p.Signal(s); err != nil {
				logrus.Debugf("forward %v: %v", s, err)
			}
		}
	}
	return -1, nil
}

// writePidFile writes the pid atomically: readers never see a partial file.
func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	return atomicfile.Write(abs, []byte(strconv.Itoa(pid)), 0o644)
}
