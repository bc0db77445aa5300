package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/mount"
)

// runMounts are what a RUN's --mount flags prepared for its container:
// binds and tmpfs for the container's HostConfig, environment (secrets
// given as env), the targets (their mount points are kept out of the
// layer), and what to undo when the step ends.
type runMounts struct {
	binds   []string
	tmpfs   map[string]string
	env     []string
	targets []string
	undo    []func()
}

// release unmounts and removes what the mounts needed, last made first.
func (m *runMounts) release() {
	for i := len(m.undo) - 1; i >= 0; i-- {
		m.undo[i]()
	}
	m.undo = nil
}

// mountsDir holds, while a RUN runs, the staging of its bind and secret
// mounts: bind mounts of what it may see, and tmpfs with its secrets.
func (b *Builder) mountsDir() string { return filepath.Join(filepath.Dir(b.tmpDir), "mounts") }

// clearRunMounts undoes what a daemon killed mid-RUN left in mountsDir.
func (b *Builder) clearRunMounts() {
	dir := b.mountsDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		// Staging mounts sit one level down (a tmpfs of secrets, a bind, a
		// stage's root); unmount depth first.
		if sub, err := os.ReadDir(p); err == nil {
			for _, s := range sub {
				_ = unix.Unmount(filepath.Join(p, s.Name()), unix.MNT_DETACH)
			}
		}
		_ = unix.Unmount(p, unix.MNT_DETACH)
		removeStaging(p)
		if strings.HasPrefix(e.Name(), "bind-") {
			_ = b.images.Snapshots().Remove(context.Background(), "build-"+e.Name())
		}
	}
}

// parseMount reads one --mount value: comma separated key=value, a bare
// key meaning true; the type is bind when not given, as BuildKit's.
func parseMount(spec string) map[string]string {
	opts := map[string]string{"type": "bind"}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			v = "true"
		}
		opts[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	return opts
}

func boolOpt(opts map[string]string, keys ...string) bool {
	for _, k := range keys {
		if v, ok := opts[k]; ok {
			b, err := strconv.ParseBool(v)
			return err == nil && b
		}
	}
	return false
}

// runMounts prepares RUN --mount: type=cache (a directory kept between
// builds under the builder's cache/, by id or target), tmpfs, secret (a
// file on a tmpfs, bound read-only) and bind (of the context, a stage or
// an image; read-only unless rw, and then on a throw-away copy).
func (r *buildRun) runMounts(ctx context.Context, st *stageState, c *Command) (*runMounts, error) {
	m := &runMounts{tmpfs: map[string]string{}}
	ok := false
	defer func() {
		if !ok {
			m.release()
		}
	}()
	for _, spec := range c.flags("mount") {
		opts := parseMount(spec)
		target := firstOf(opts, "target", "dst", "destination")
		if target != "" && !strings.HasPrefix(target, "/") {
			target = cleanPath(st.img.Config.WorkingDir + "/" + target)
		}
		if target != "" {
			target = cleanPath(target)
		}
		if opts["type"] == "secret" {
			if err := r.secretMount(st, c, m, opts, target); err != nil {
				return nil, err
			}
			continue
		}
		if target == "" {
			return nil, errdefs.Invalid("dockerfile line %d: --mount=%s: a target is required", c.Line, spec)
		}
		switch opts["type"] {
		case "cache":
			id := opts["id"]
			if id == "" {
				id = target
			}
			dir := filepath.Join(r.b.cacheDir(), hexSum(id))
			if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
				return nil, err
			}
			if err := os.Mkdir(dir, 0o755); err == nil {
				if mode, err := strconv.ParseUint(opts["mode"], 8, 32); err == nil {
					_ = os.Chmod(dir, os.FileMode(mode))
				}
				uid, _ := strconv.Atoi(opts["uid"])
				gid, _ := strconv.Atoi(opts["gid"])
				_ = os.Chown(dir, uid, gid)
			}
			mode := "rw"
			if boolOpt(opts, "ro", "readonly") {
				mode = "ro"
			}
			m.binds = append(m.binds, dir+":"+target+":"+mode)
		case "tmpfs":
			o := ""
			if size := opts["size"]; size != "" {
				o = "size=" + size
			}
			m.tmpfs[target] = o
		case "bind":
			if err := r.bindMount(ctx, st, c, m, opts, target); err != nil {
				return nil, err
			}
		default:
			return nil, errdefs.Invalid("dockerfile line %d: unsupported mount type %q: use bind, cache, tmpfs or secret", c.Line, opts["type"])
		}
		m.targets = append(m.targets, target)
	}
	ok = true
	return m, nil
}

// stagingDir makes a new directory under mountsDir, removed by release.
func (r *buildRun) stagingDir(m *runMounts, prefix string) (string, error) {
	base := r.b.mountsDir()
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(base, prefix)
	if err != nil {
		return "", err
	}
	m.undo = append(m.undo, func() { removeStaging(dir) })
	return dir, nil
}

// removeStaging removes a staging directory whose mounts are undone.
// Never recursively but for the builder's own copy: were a mount still
// there, a recursive removal would delete the files it shows (the
// user's context).
func removeStaging(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if e.Name() == "copy" {
			_ = os.RemoveAll(p)
			continue
		}
		_ = os.Remove(p)
	}
	_ = os.Remove(dir)
}

// removeMountStubs deletes from a RUN's upper directory the mount points
// the runtime made for --mount targets: a target (and its parents) that no
// lower layer has and that is still empty was made for the mount only.
func (r *buildRun) removeMountStubs(upper string, chains []digest.Digest, targets []string) error {
	var lowers []string
	snaps := r.b.images.Snapshots()
	for i := len(chains) - 1; i >= 0; i-- {
		p, err := snaps.LayerPath(chains[i])
		if err != nil {
			return err
		}
		lowers = append(lowers, p)
	}
	for _, t := range targets {
		for p := cleanPath(t); p != "/"; p = path.Dir(p) {
			if inLowers(lowers, p) {
				break
			}
			full := filepath.Join(upper, p)
			fi, err := os.Lstat(full)
			if err != nil {
				break
			}
			if fi.IsDir() {
				// rmdir removes only an empty directory: one the command
				// wrote into stays.
				if err := unix.Rmdir(full); err != nil {
					break
				}
				continue
			}
			if !fi.Mode().IsRegular() || fi.Size() != 0 {
				break
			}
			if err := os.Remove(full); err != nil {
				return err
			}
		}
	}
	return nil
}

// inLowers says whether p exists in the layers (top first), a whiteout
// hiding it.
func inLowers(lowers []string, p string) bool {
	for _, l := range lowers {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(l, p), &st); err != nil {
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			return false
		}
		return true
	}
	return false
}

// bindMountPath bind mounts the file or directory an O_PATH descriptor
// names on a new mount point under dir, and returns the mount point.
func bindMountPath(m *runMounts, dir string, fd int) (string, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", err
	}
	point := filepath.Join(dir, "src")
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := os.Mkdir(point, 0o700); err != nil {
			return "", err
		}
	} else {
		if err := os.WriteFile(point, nil, 0o600); err != nil {
			return "", err
		}
	}
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", fd), point, "", unix.MS_BIND, ""); err != nil {
		return "", fmt.Errorf("bind mount for RUN --mount: %w", err)
	}
	m.undo = append(m.undo, func() { _ = mount.Unmount(context.Background(), point) })
	return point, nil
}

// isEscape says whether an openat2 error means the path led outside its
// root.
func isEscape(err error) bool {
	return errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ELOOP)
}
