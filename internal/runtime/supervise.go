package runtime

import (
	"context"
	"os"
	"sync"
	"syscall"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// ProcessIO is what a supervised process gets as its stdio: the files
// themselves (nil is /dev/null), or with Terminal a new pseudo-terminal
// whose master the supervisor receives.
type ProcessIO struct {
	Stdin, Stdout, Stderr *os.File
	Terminal              bool
}

// Supervised is a container process whose parent is the caller: the shim
// waits for it, signals it and owns its stdio.
type Supervised struct {
	r       *Runtime
	process *libcontainer.Process // nil for an adopted init (Adopt)
	pid     int                   // an adopted init's
	console *os.File              // our end of the console socket until the master arrives
	master  *os.File

	mu        sync.Mutex
	id        string
	container *libcontainer.Container // an adopted init's is loaded when first needed
}

// CreateSupervised creates the container of bundle with the caller as its
// parent; the init waits for Start.
func (r *Runtime) CreateSupervised(ctx context.Context, id, bundle string, pio ProcessIO) (*Supervised, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	spec, abs, err := LoadBundle(bundle)
	if err != nil {
		return nil, err
	}
	if spec.Process == nil {
		return nil, errdefs.Invalid("config.json has no process: name the program to run")
	}
	spec.Process.Terminal = pio.Terminal
	c, err := r.create(id, spec, abs, CreateOptions{Bundle: abs})
	if err != nil {
		return nil, err
	}
	s, err := r.spawn(c, spec.Process, pio, true, c.Start)
	if err != nil {
		_ = c.Destroy()
		return nil, err
	}
	return s, nil
}

// Exec starts p in the container s is the init of. The supervisor keeps
// the container from its creation, so its state is not read back from
// disk at every exec.
func (s *Supervised) Exec(ctx context.Context, p *specs.Process, pio ProcessIO) (*Supervised, error) {
	c, err := s.loaded()
	if err != nil {
		return nil, err
	}
	r, id := s.r, s.id
	status, err := c.Status()
	if err != nil {
		return nil, err
	}
	switch status {
	case libcontainer.Stopped:
		return nil, errdefs.Conflict("container %s is not running", id)
	case libcontainer.Paused:
		return nil, errdefs.Conflict("container %s is paused, unpause the container before exec", id)
	}
	p.Terminal = pio.Terminal
	if err := ValidateProcess(p); err != nil {
		return nil, err
	}
	return r.spawn(c, p, pio, false, c.Run)
}

func (r *Runtime) spawn(c *libcontainer.Container, spec *specs.Process, pio ProcessIO, init bool, start func(*libcontainer.Process) error) (*Supervised, error) {
	p, err := newProcess(spec)
	if err != nil {
		return nil, err
	}
	p.Init = init
	s := &Supervised{r: r, container: c, id: c.ID(), process: p}
	var child *os.File
	if pio.Terminal {
		parent, c, err := utils.NewSockPair("console")
		if err != nil {
			return nil, err
		}
		p.ConsoleSocket, child, s.console = c, c, parent
	} else {
		// Only non-nil files are set: a typed nil in the interface would not
		// read as "none" to libcontainer.
		if pio.Stdin != nil {
			p.Stdin = pio.Stdin
		}
		if pio.Stdout != nil {
			p.Stdout = pio.Stdout
		}
		if pio.Stderr != nil {
			p.Stderr = pio.Stderr
		}
	}
	err = start(p)
	if child != nil {
		child.Close()
	}
	if err != nil {
		s.closeConsole()
		return nil, programError(err)
	}
	if s.console != nil {
		f, err := utils.RecvFile(s.console)
		s.closeConsole()
		if err != nil {
			_ = p.Signal(unix.SIGKILL)
			_, _ = p.Wait()
			return nil, err
		}
		s.master = f
	}
	return s, nil
}

func (s *Supervised) closeConsole() {
	if s.console != nil {
		s.console.Close()
		s.console = nil
	}
}

// Console is the terminal's master, or nil without a terminal.
func (s *Supervised) Console() *os.File { return s.master }

// Adopt supervises the init of container id, a running process that is
// already the caller's child: a shim that re-executed itself (execve keeps
// its children) takes its container over this way. The container's state
// is read from disk only when an operation needs it, not to wait.
func (r *Runtime) Adopt(id string, pid int, master *os.File) *Supervised {
	return &Supervised{r: r, id: id, pid: pid, master: master}
}

// loaded is the container s belongs to.
func (s *Supervised) loaded() (*libcontainer.Container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.container == nil {
		c, err := s.r.load(s.id)
		if err != nil {
			return nil, err
		}
		s.container = c
	}
	return s.container, nil
}

// Pid is the process's host pid.
func (s *Supervised) Pid() int {
	if s.process == nil {
		return s.pid
	}
	pid, _ := s.process.Pid()
	return pid
}

// Start lets a created container's init exec the user's program.
func (s *Supervised) Start() error {
	if s.process == nil {
		return errdefs.Conflict("container %s is already running", s.id)
	}
	return s.r.startCreated(s.container)
}

// Signal sends sig to the process.
func (s *Supervised) Signal(sig unix.Signal) error {
	if s.process == nil {
		// Not reaped yet by its parent, us: the pid is still the process's.
		return unix.Kill(s.pid, sig)
	}
	return s.process.Signal(sig)
}

// WaitExited returns once the process has exited, leaving it to be reaped
// (Wait).
func (s *Supervised) WaitExited() {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, s.Pid(), &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}

// Wait waits for the process and returns its exit status as a shell
// reports it (128+signal for a killed process).
func (s *Supervised) Wait() int {
	if s.process == nil {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(s.pid, &ws, 0, nil)
			if err == nil {
				return utils.ExitStatus(ws)
			}
			if err != unix.EINTR {
				return 255
			}
		}
	}
	st, err := s.process.Wait()
	if st == nil {
		if err != nil {
			return 255
		}
		return 0
	}
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok {
		return 255
	}
	return utils.ExitStatus(unix.WaitStatus(ws))
}

// CgroupManager is the cgroup manager of the container s belongs to.
func (s *Supervised) CgroupManager() (cgroups.Manager, error) {
	c, err := s.loaded()
	if err != nil {
		return nil, err
	}
	return managerOf(c)
}

// Destroy removes the container s is the init of (its processes, cgroups
// and state), as Delete with force does, from the container the supervisor
// already holds.
func (s *Supervised) Destroy() error {
	c, err := s.loaded()
	if err != nil {
		return err
	}
	return killAndDestroy(c)
}
