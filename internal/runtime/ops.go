package runtime

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// State is runc's state JSON: the runtime-spec state plus rootfs, creation
// time and owner.
type State struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

// State reports one container.
func (r *Runtime) State(ctx context.Context, id string) (*State, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return stateOf(c)
}

func stateOf(c *libcontainer.Container) (*State, error) {
	status, err := c.Status()
	if err != nil {
		return nil, err
	}
	st, err := c.State()
	if err != nil {
		return nil, err
	}
	pid := st.BaseState.InitProcessPid
	if status == libcontainer.Stopped {
		pid = 0
	}
	bundle, annotations := utils.Annotations(st.Config.Labels)
	return &State{
		Version:     st.Config.Version,
		ID:          st.ID,
		Pid:         pid,
		Status:      status.String(),
		Bundle:      bundle,
		Rootfs:      st.Config.Rootfs,
		Created:     st.Created,
		Annotations: annotations,
	}, nil
}

// List reports every container under the root. Containers whose state cannot
// be read are reported through skipped and left out.
func (r *Runtime) List(ctx context.Context, skipped func(id string, err error)) ([]State, error) {
	entries, err := os.ReadDir(r.root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []State
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		c, err := libcontainer.Load(r.root, e.Name())
		if err != nil {
			skipped(e.Name(), err)
			continue
		}
		st, err := stateOf(c)
		if err != nil {
			skipped(e.Name(), err)
			continue
		}
		st.Owner = ownerName(info.Sys().(*syscall.Stat_t).Uid)
		out = append(out, *st)
	}
	return out, nil
}

func ownerName(uid uint32) string {
	id := strconv.Itoa(int(uid))
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return "#" + id
}

// Start lets a created container's init exec the user's program.
func (r *Runtime) Start(ctx context.Context, id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	status, err := c.Status()
	if err != nil {
		return err
	}
	switch status {
	case libcontainer.Created:
		return r.startCreated(c)
	case libcontainer.Stopped:
		return errdefs.Conflict("cannot start a container that has stopped")
	case libcontainer.Running:
		return errdefs.Conflict("cannot start an already running container")
	default:
		return errdefs.Conflict("cannot start a container in the %s state", status)
	}
}

// startCreated lets the waiting init exec the program, then runs the
// poststart hooks.
func (r *Runtime) startCreated(c *libcontainer.Container) error {
	st, err := c.State()
	if err != nil {
		return err
	}
	initExe := exeOf(st.InitProcessPid)
	if err := c.Exec(); err != nil {
		return programError(err)
	}
	return r.runPoststart(c, initExe)
}

// Kill sends sig to the container's init, or with all to every process in
// its cgroup.
func (r *Runtime) Kill(ctx context.Context, id string, sig unix.Signal, all bool) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	return kill(c, id, sig, all)
}

// Kill signals the container s is the init of, as Runtime.Kill does.
func (s *Supervised) Kill(sig unix.Signal, all bool) error {
	c, err := s.loaded()
	if err != nil {
		return err
	}
	return kill(c, s.id, sig, all)
}

func kill(c *libcontainer.Container, id string, sig unix.Signal, all bool) error {
	// SIGKILL reaches every process without freezing the cgroup: in a PID
	// namespace of its own the kernel kills them all with init, and
	// libcontainer kills the others through the cgroup (cgroup.kill where
	// the kernel has it). Freezing a v1 cgroup costs about 10 ms.
	if !all || sig == unix.SIGKILL {
		return classify(c.Signal(sig), id)
	}
	pids, err := c.Processes()
	if err != nil {
		return err
	}
	if len(pids) == 0 {
		return nil
	}
	// Frozen, the processes cannot fork new ones past the signal.
	paused := c.Pause() == nil
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && err != unix.ESRCH {
			return err
		}
	}
	if paused {
		return c.Resume()
	}
	return nil
}

// Delete removes a stopped container; force kills a running one first. A
// created container is killed and removed, as runc does.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	c, err := r.load(id)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			if validateID(id) == nil {
				// Leftovers of a container that never finished creating.
				_ = os.RemoveAll(filepath.Join(r.root, id))
			}
			if force {
				return nil
			}
		}
		return err
	}
	if force {
		return killAndDestroy(c)
	}
	status, err := c.Status()
	if err != nil {
		return err
	}
	switch status {
	case libcontainer.Stopped:
		return c.Destroy()
	case libcontainer.Created:
		return killAndDestroy(c)
	default:
		return errdefs.Conflict("cannot delete container %s that is not stopped: %s", id, status)
	}
}

func killAndDestroy(c *libcontainer.Container) error {
	_ = c.Signal(unix.SIGKILL)
	for range 100 {
		if err := c.Signal(unix.Signal(0)); err != nil {
			return c.Destroy()
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A paused init cannot die: thaw it and wait longer.
	_ = c.Resume()
	for range 500 {
		if err := c.Signal(unix.Signal(0)); err != nil {
			return c.Destroy()
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errdefs.Unavailable("container %s's init is still running after SIGKILL", c.ID())
}

// Pause freezes every process of the container.
func (r *Runtime) Pause(ctx context.Context, id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	return classify(c.Pause(), id)
}

// Resume thaws a paused container.
func (r *Runtime) Resume(ctx context.Context, id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	return classify(c.Resume(), id)
}

// Processes lists the host pids in the container's cgroup.
func (r *Runtime) Processes(ctx context.Context, id string) ([]int, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return c.Processes()
}
