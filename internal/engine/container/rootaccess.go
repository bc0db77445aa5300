package container

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/mount"
)

// withRootFS gives fn the container's root filesystem as an open
// directory, and the path under which /proc/self/fd links to files in it
// read (see pathInRoot). For a running (or paused) container that is, with
// withMounts, the root as its process sees it, its binds, volumes and
// tmpfs included (what `cp` works on, as Docker's), else the mounted root
// filesystem alone (what `export` writes). A container that is not running
// has its overlay mounted for the call on a directory of its own under the
// exec root (never inside the bundle, which a start clears). The caller
// holds e.mu, so the container neither starts nor exits meanwhile (Docker
// holds its lock as long).
func (s *Service) withRootFS(ctx context.Context, e *entry, withMounts bool, fn func(root *os.File, path string) error) error {
	rec := &e.rec
	if rec.State.Running() {
		p := filepath.Join(s.bundleDir(rec.ID), "rootfs")
		if withMounts {
			if root, err := processRoot(rec.State.Pid, p); err == nil {
				defer root.Close()
				return fn(root, "/")
			}
		}
		return openRoot(p, fn)
	}
	ms, err := s.snaps.Mounts(ctx, rec.ID)
	if err != nil {
		return err
	}
	base := filepath.Join(s.cfg.ExecRoot, "mnt")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(base, shortID(rec.ID)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	if err := mount.All(ctx, ms, dir); err != nil {
		return fmt.Errorf("mounting the container's root filesystem: %w", err)
	}
	defer func() {
		if err := mount.Unmount(context.Background(), dir); err != nil {
			s.log.Warn("unmounting a container's root filesystem", "id", rec.ID, "err", err)
		}
	}()
	return openRoot(dir, fn)
}

// clearTemporaryMounts unmounts what withRootFS left mounted when the
// daemon died during a copy.
func (s *Service) clearTemporaryMounts() {
	base := filepath.Join(s.cfg.ExecRoot, "mnt")
	ents, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, de := range ents {
		p := filepath.Join(base, de.Name())
		_ = mount.Unmount(context.Background(), p)
		_ = os.Remove(p)
	}
}

// processRoot opens the root directory of the container's process pid, in
// its own mount namespace, after making sure pid is still the container's:
// alive once the root is open (pidfd), and with the container's root
// filesystem (mounted at mounted) as its root, never a host process that
// took the pid over.
func processRoot(pid int, mounted string) (*os.File, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("no process")
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pidfd)
	root, err := os.OpenFile(fmt.Sprintf("/proc/%d/root", pid), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	var got, want unix.Stat_t
	err = unix.PidfdSendSignal(pidfd, 0, nil, 0)
	if err == nil {
		err = unix.Fstat(int(root.Fd()), &got)
	}
	if err == nil {
		err = unix.Stat(mounted, &want)
	}
	if err == nil && (got.Dev != want.Dev || got.Ino != want.Ino) {
		err = fmt.Errorf("process %d is not the container's", pid)
	}
	if err != nil {
		root.Close()
		return nil, err
	}
	return root, nil
}

func openRoot(p string, fn func(root *os.File, path string) error) error {
	root, err := os.OpenFile(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	return fn(root, p)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// inRoot is a path relative to the root for openat2: "." for the root.
func inRoot(p string) string {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return "."
	}
	return p
}

// resolveInRoot opens p (absolute in the container) as the container
// would see it, every symlink (absolute, climbing, the last one too)
// resolved inside root, never outside. flags are open(2)'s.
func resolveInRoot(root *os.File, p string, flags int) (*os.File, error) {
	how := &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for range 16 {
		fd, err := unix.Openat2(int(root.Fd()), inRoot(p), how)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue // a rename raced the scoped lookup
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: p, Err: err}
		}
		return os.NewFile(uintptr(fd), p), nil
	}
	return nil, &os.PathError{Op: "open", Path: p, Err: unix.EAGAIN}
}

// pathInRoot is where the open file f is, as an absolute path inside the
// container whose root is at rootPath.
func pathInRoot(f *os.File, rootPath string) (string, error) {
	target, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(rootPath, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s resolved outside the container's root", f.Name())
	}
	return filepath.Join("/", rel), nil
}

// fdPath names an open descriptor as a path that reopens exactly it: code
// that takes paths then works on what was resolved safely.
func fdPath(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }
