package container

import (
	"context"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/archive"
	"github.com/gantry-dev/gantry/internal/mount"
)

// layerDirs are a container's writable directory (overlay upper) and the
// image's layers below it, top first, from the mounts the snapshotter
// gives for it.
func layerDirs(ms []mount.Mount) (upper string, lowers []string) {
	for _, m := range ms {
		if m.Type == "bind" {
			return m.Source, nil
		}
		for _, o := range m.Options {
			k, v, _ := strings.Cut(o, "=")
			switch k {
			case "upperdir":
				upper = v
			case "lowerdir":
				lowers = strings.Split(v, ":")
			}
		}
	}
	return upper, lowers
}

// runtimePaths are what the runtime makes in a root filesystem to mount
// over (Docker keeps them in its "-init" layer, which diff does not see):
// left out of a diff when they are new and empty.
var runtimePaths = map[string]bool{
	"/dev": true, "/dev/pts": true, "/dev/shm": true, "/dev/console": true, "/dev/mqueue": true,
	"/proc": true, "/sys": true, "/etc/hosts": true, "/etc/hostname": true, "/etc/resolv.conf": true,
	"/etc/mtab": true, "/.dockerenv": true,
}

// Changes is GET /containers/{id}/changes: what the container changed in
// its image's files, from its writable layer, as Docker reports it (a
// whiteout or an opaque directory is a deletion, a file new to every
// layer an addition, anything else a modification, with the parents of
// additions and deletions modified), in Docker's order (depth first, names
// sorted).
func (s *Service) Changes(ctx context.Context, ref string) ([]container.FilesystemChange, error) {
	e, err := s.lookup(ref)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	id := e.rec.ID
	e.mu.Unlock()
	ms, err := s.snaps.Mounts(ctx, id)
	if err != nil {
		return nil, err
	}
	upper, lowers := layerDirs(ms)
	c := &changeWalk{lowers: make([]*os.File, 0, len(lowers)), dirs: map[string]bool{}}
	for _, l := range lowers {
		f, err := os.OpenFile(l, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		c.lowers = append(c.lowers, f)
	}
	if err := c.walk(ctx, upper, "/"); err != nil {
		return nil, err
	}
	out := c.dropRuntimeParents()
	if out == nil {
		out = []container.FilesystemChange{}
	}
	return out, nil
}

type changeWalk struct {
	lowers  []*os.File
	changes []container.FilesystemChange
	dirs    map[string]bool // directories already recorded (or seen changed)
	// quiet are directories recorded as modified only because of their
	// mtime: dropped when nothing under them is left in the diff.
	quiet map[string]bool
}

func (c *changeWalk) walk(ctx context.Context, dir, rel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		p := path.Join(rel, name)
		full := filepath.Join(dir, name)
		var st unix.Stat_t
		if err := unix.Lstat(full, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return err
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if err := c.entry(full, p, &st); err != nil {
			return err
		}
		if isDir {
			if err := c.walk(ctx, full, p); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *changeWalk) entry(full, p string, st *unix.Stat_t) error {
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	kind := container.ChangeAdd
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0:
		kind = container.ChangeDelete
	case isDir && opaque(full):
		kind = container.ChangeDelete
	default:
		if lst, ok := c.inLower(p); ok {
			if isDir && lst.Mode&unix.S_IFMT == unix.S_IFDIR && lst.Mode == st.Mode && lst.Uid == st.Uid && lst.Gid == st.Gid {
				if lst.Mtim == st.Mtim {
					return nil // only a parent of something changed
				}
				c.markQuiet(p)
			}
			kind = container.ChangeModify
		} else if runtimePaths[p] && (isDir || st.Size == 0) {
			return nil
		} else if isDir && holdsRuntimePath(p) {
			// New only to hold the runtime's mount points (an image
			// without /etc): left out when nothing else is in it.
			c.markQuiet(p)
		}
	}
	if isDir {
		c.dirs[p] = true
	}
	if kind != container.ChangeModify {
		if parent := path.Dir(p); parent != "/" && !c.dirs[parent] {
			c.changes = append(c.changes, container.FilesystemChange{Path: parent, Kind: container.ChangeModify})
			c.dirs[parent] = true
		}
	}
	c.changes = append(c.changes, container.FilesystemChange{Path: p, Kind: kind})
	return nil
}

func holdsRuntimePath(dir string) bool {
	for p := range runtimePaths {
		if strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

func (c *changeWalk) markQuiet(p string) {
	if c.quiet == nil {
		c.quiet = map[string]bool{}
	}
	c.quiet[p] = true
}

// dropRuntimeParents leaves out directories modified only in their mtime
// with nothing under them in the diff: the runtime's mount points made
// them so, not the container.
func (c *changeWalk) dropRuntimeParents() []container.FilesystemChange {
	keep := make([]bool, len(c.changes))
	next := "" // the next change kept, in walk order
	for i := len(c.changes) - 1; i >= 0; i-- {
		ch := c.changes[i]
		// A directory's descendants follow it directly (depth first).
		if c.quiet[ch.Path] && !strings.HasPrefix(next, ch.Path+"/") {
			continue
		}
		keep[i] = true
		next = ch.Path
	}
	var out []container.FilesystemChange
	for i, ch := range c.changes {
		if keep[i] {
			out = append(out, ch)
		}
	}
	return out
}

// inLower stats p in the first layer below that has it, never following
// a symlink of a layer.
func (c *changeWalk) inLower(p string) (unix.Stat_t, bool) {
	rel := strings.TrimPrefix(p, "/")
	for _, l := range c.lowers {
		fd, err := unix.Openat2(int(l.Fd()), rel, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
		})
		if err != nil {
			continue
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		unix.Close(fd)
		if err == nil {
			return st, true
		}
	}
	return unix.Stat_t{}, false
}

func opaque(dir string) bool {
	buf := make([]byte, 4)
	for _, name := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if n, err := unix.Lgetxattr(dir, name, buf); err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}

// Export is GET /containers/{id}/export: the container's merged
// filesystem as a tar, mounted for the call when it is not running.
func (s *Service) Export(ctx context.Context, ref string, start func() (io.Writer, error)) error {
	e, err := s.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	err = s.withRootFS(ctx, e, false, func(root *os.File, _ string) error {
		w, err := start()
		if err != nil {
			return err
		}
		return archive.Tar(ctx, fdPath(root), w, archive.TarOptions{})
	})
	if err == nil {
		s.publish("export", &e.rec, nil)
	}
	return err
}
