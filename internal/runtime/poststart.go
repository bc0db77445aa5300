package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// libcontainer runs poststart hooks as soon as the init exists, during
// create, before the user's program runs. The spec wants them after the
// program has started and before start returns, so gantry takes them out of
// libcontainer's config, keeps them beside its state and runs them itself.

const poststartFile = "gantry-poststart.json"

// holdPoststart removes the poststart hooks from cfg and returns them.
func holdPoststart(cfg *configs.Config) configs.Hooks {
	if len(cfg.Hooks[configs.Poststart]) == 0 {
		return nil
	}
	held := configs.Hooks{configs.Poststart: cfg.Hooks[configs.Poststart]}
	delete(cfg.Hooks, configs.Poststart)
	return held
}

// savePoststart writes the held hooks into the container's state directory,
// which libcontainer removes with the container.
func (r *Runtime) savePoststart(id string, hooks configs.Hooks) error {
	if hooks == nil {
		return nil
	}
	data, err := json.Marshal(&hooks)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(r.root, id, poststartFile), data)
}

// runPoststart waits for the init to have executed the user's program, then
// runs the held poststart hooks. A failing hook kills the container, as the
// spec says.
func (r *Runtime) runPoststart(c *libcontainer.Container, initExe string) error {
	data, err := os.ReadFile(filepath.Join(r.root, c.ID(), poststartFile))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var hooks configs.Hooks
	if err := json.Unmarshal(data, &hooks); err != nil {
		return err
	}
	st, err := c.State()
	if err != nil {
		return err
	}
	waitExec(st.InitProcessPid, initExe)
	s, err := c.OCIState()
	if err != nil {
		return err
	}
	if err := hooks.Run(configs.Poststart, s); err != nil {
		_ = c.Signal(unix.SIGKILL)
		return err
	}
	return nil
}

// exeOf is what /proc/PID/exe points at, or "".
func exeOf(pid int) string {
	link, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return link
}

// waitExec waits, briefly, until pid no longer runs the init binary.
func waitExec(pid int, initExe string) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		exe := exeOf(pid)
		if exe == "" || exe != initExe {
			return
		}
		time.Sleep(500 * time.Microsecond)
	}
}

// writeFileAtomic writes through a temporary file, fsync and rename, so a
// crash leaves the old content or the new, never a mix.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
