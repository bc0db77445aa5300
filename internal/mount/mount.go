// Package mount applies mounts described as data. Snapshotters return such
// descriptions; only the caller that owns a mount point mounts them.
package mount

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount is one mount(2) call: a filesystem type, a source and options in the
// form of mount(8) ("ro", "bind", "lowerdir=...").
type Mount struct {
	Type    string   `json:"type"`
	Source  string   `json:"source"`
	Options []string `json:"options,omitempty"`
}

var flagOptions = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"nosuid": {false, unix.MS_NOSUID}, "nodev": {false, unix.MS_NODEV}, "noexec": {false, unix.MS_NOEXEC},
	"bind": {false, unix.MS_BIND}, "rbind": {false, unix.MS_BIND | unix.MS_REC},
	"noatime": {false, unix.MS_NOATIME}, "relatime": {false, unix.MS_RELATIME},
}

// pageLimit is what the kernel copies of mount data: longer overlay options
// are cut and the mount fails, so long lower-dir lists are shortened first.
const pageLimit = 4096 - 512

// All mounts ms on target, in order.
func All(ctx context.Context, ms []Mount, target string) error {
	for _, m := range ms {
		if err := m.mount(target); err != nil {
			return err
		}
	}
	return nil
}

func (m Mount) mount(target string) error {
	var flags uintptr
	var data []string
	for _, o := range m.Options {
		if f, ok := flagOptions[o]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		data = append(data, o)
	}
	typ := m.Type
	if flags&unix.MS_BIND != 0 {
		typ = ""
	}
	joined := strings.Join(data, ",")
	if m.Type == "overlay" && len(joined) > pageLimit {
		return mountOverlayRelative(m.Source, target, flags, data)
	}
	if err := unix.Mount(m.Source, target, typ, flags, joined); err != nil {
		return fmt.Errorf("mount %s on %s: %w", m.Type, target, err)
	}
	// A bind mount takes read-only only on a remount.
	if flags&unix.MS_BIND != 0 && flags&unix.MS_RDONLY != 0 {
		if err := unix.Mount("", target, "", flags|unix.MS_REMOUNT, ""); err != nil {
			_ = unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("remount %s read-only: %w", target, err)
		}
	}
	return nil
}

// mountOverlayRelative mounts an overlay whose option string is too long by
// making its directories relative to their common parent, from a thread
// whose working directory (unshared from the rest of the process) is that
// parent. The thread is thrown away afterwards.
func mountOverlayRelative(source, target string, flags uintptr, data []string) error {
	var dirs []string
	for _, o := range data {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "lowerdir":
			dirs = append(dirs, strings.Split(v, ":")...)
		case "upperdir", "workdir":
			dirs = append(dirs, v)
		}
	}
	base := commonDir(dirs)
	rel := func(p string) string {
		r, err := filepath.Rel(base, p)
		if err != nil {
			return p
		}
		return r
	}
	out := make([]string, 0, len(data))
	for _, o := range data {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "lowerdir":
			parts := strings.Split(v, ":")
			for i := range parts {
				parts[i] = rel(parts[i])
			}
			o = "lowerdir=" + strings.Join(parts, ":")
		case "upperdir", "workdir":
			o = k + "=" + rel(v)
		}
		out = append(out, o)
	}
	joined := strings.Join(out, ",")
	if len(joined) > 4095 {
		return fmt.Errorf("mount overlay on %s: %d layers do not fit in one overlay mount", target, len(dirs))
	}
	absTarget, err := filepath.Abs(target)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread exits with the goroutine, taking its
		// private working directory with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare fs: %w", err)
			return
		}
		if err := unix.Chdir(base); err != nil {
			errc <- err
			return
		}
		if err := unix.Mount(source, absTarget, "overlay", flags, joined); err != nil {
			errc <- fmt.Errorf("mount overlay on %s: %w", absTarget, err)
			return
		}
		errc <- nil
	}()
	return <-errc
}

func commonDir(paths []string) string {
	if len(paths) == 0 {
		return "/"
	}
	common := filepath.Dir(paths[0])
	for _, p := range paths[1:] {
		for !strings.HasPrefix(p, common+"/") && common != "/" {
			common = filepath.Dir(common)
		}
	}
	return common
}

// Unmount detaches target. A target that is not mounted is not an error.
func Unmount(ctx context.Context, target string) error {
	if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && err != unix.EINVAL && !os.IsNotExist(err) {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	return nil
}
