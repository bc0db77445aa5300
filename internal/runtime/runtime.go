// Package runtime is gantry's OCI runtime: it turns a bundle (config.json and
// a root filesystem) into a container through runc's libcontainer, and keeps
// runc's semantics for every operation so that tools written for runc work.
package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// DefaultRoot is where container state lives unless --root says otherwise.
const DefaultRoot = "/run/gantry/runtime"

// Runtime manages the containers whose state is under one root directory.
type Runtime struct {
	root          string
	systemdCgroup bool
}

// Option configures a Runtime.
type Option func(*Runtime)

// WithSystemdCgroup makes cgroupsPath be read as "slice:prefix:name" and the
// cgroups be managed through systemd.
func WithSystemdCgroup(on bool) Option { return func(r *Runtime) { r.systemdCgroup = on } }

// New returns a runtime keeping its state under root.
func New(root string, opts ...Option) (*Runtime, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, errdefs.Invalid("--root %q: %v", root, err)
	}
	if abs == "/" {
		return nil, errdefs.Invalid("--root must not be /")
	}
	r := &Runtime{root: abs}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

// Root is the state directory.
func (r *Runtime) Root() string { return r.root }

// load opens an existing container.
func (r *Runtime) load(id string) (*libcontainer.Container, error) {
	if id == "" {
		return nil, errdefs.Invalid("container ID is empty")
	}
	c, err := libcontainer.Load(r.root, id)
	if err != nil {
		return nil, classify(err, id)
	}
	return c, nil
}

// create makes the container from a checked spec; nothing runs yet.
func (r *Runtime) create(id string, spec *specs.Spec, bundle string, opts CreateOptions) (*libcontainer.Container, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(r.root, id)); err == nil {
		return nil, errdefs.Conflict("container %q already exists: choose another ID or delete it first", id)
	}
	if err := checkProgram(spec); err != nil {
		return nil, err
	}
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:       id,
		UseSystemdCgroup: r.systemdCgroup,
		NoPivotRoot:      opts.NoPivot,
		NoNewKeyring:     opts.NoNewKeyring,
		Spec:             spec,
		RootlessEUID:     os.Geteuid() != 0,
		RootlessCgroups:  os.Geteuid() != 0,
	})
	if err != nil {
		return nil, errdefs.Invalid("%v", err)
	}
	relabelBundle(cfg, bundle)
	if cfg.Seccomp != nil {
		compileFaster(cfg.Seccomp)
	}
	poststart := holdPoststart(cfg)
	c, err := libcontainer.Create(r.root, id, cfg)
	if err != nil {
		return nil, classify(err, id)
	}
	if err := r.savePoststart(id, poststart); err != nil {
		_ = c.Destroy()
		return nil, err
	}
	return c, nil
}

// relabelBundle records the bundle path, which libcontainer takes from the
// working directory; gantry never changes its working directory.
func relabelBundle(cfg *configs.Config, bundle string) {
	for i, l := range cfg.Labels {
		if strings.HasPrefix(l, "bundle=") {
			cfg.Labels[i] = "bundle=" + bundle
		}
	}
}

func validateID(id string) error {
	if id == "" {
		return errdefs.Invalid("container ID is empty")
	}
	if id == "." || id == ".." || len(id) > 1024 {
		return errdefs.Invalid("invalid container ID %q", id)
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '+' || c == '-' || c == '.'
		if !ok {
			return errdefs.Invalid("invalid container ID %q: use only letters, digits and _ + - .", id)
		}
	}
	return nil
}

// classify gives libcontainer's errors a class and a message that names the
// container.
func classify(err error, id string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, libcontainer.ErrNotExist):
		return errdefs.NotFound("container %q does not exist", id)
	case errors.Is(err, libcontainer.ErrExist):
		return errdefs.Conflict("container %q already exists: choose another ID or delete it first", id)
	case errors.Is(err, libcontainer.ErrNotRunning):
		return errdefs.Conflict("container %q is not running", id)
	case errors.Is(err, libcontainer.ErrPaused):
		return errdefs.Conflict("container %q is paused: resume it first", id)
	case errors.Is(err, libcontainer.ErrRunning):
		return errdefs.Conflict("container %q is running", id)
	}
	return programError(err)
}

// programError rewrites the init's report of a missing program into one line.
func programError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	i := strings.Index(msg, "exec: \"")
	if i < 0 {
		return err
	}
	rest := msg[i+len("exec: \""):]
	prog, tail, ok := strings.Cut(rest, "\"")
	if !ok {
		return err
	}
	switch {
	case strings.Contains(tail, "no such file or directory"):
		return errdefs.NotFound("exec: %q: no such file in the container's root filesystem", prog)
	case strings.Contains(tail, "executable file not found"):
		return errdefs.NotFound("exec: %q: executable file not found in $PATH of the container", prog)
	case strings.Contains(tail, "permission denied"):
		return errdefs.Forbidden("exec: %q: permission denied: is it executable?", prog)
	}
	return fmt.Errorf("%s", msg[i:])
}
