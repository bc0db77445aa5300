// Package diskusage measures what the engine keeps on disk for `system df`
// and the prunes: directory trees (each file once, however many hardlinks
// it has), the image layers (measured once: they never change), and the
// report that brings images, containers, volumes and build cache together
// through small interfaces each service fills.
package diskusage

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

type inode struct{ dev, ino uint64 }

// Dir is the bytes of everything under dir but the directories themselves,
// as Docker counts a layer: regular files, symlinks and the rest at their
// apparent size, a file with several hardlinks once. A missing dir is 0.
func Dir(ctx context.Context, dir string) (int64, error) {
	seen := map[inode]bool{}
	var total int64
	err := walk(ctx, dir, func(st *unix.Stat_t) {
		if st.Nlink > 1 {
			k := inode{uint64(st.Dev), st.Ino}
			if seen[k] {
				return
			}
			seen[k] = true
		}
		total += st.Size
	})
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	return total, err
}

// walk calls fn with the stat of every non-directory under dir, never
// following a symlink.
func walk(ctx context.Context, dir string, fn func(*unix.Stat_t)) error {
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
	for _, name := range names {
		p := filepath.Join(dir, name)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			if err == unix.ENOENT {
				continue // removed meanwhile
			}
			return &os.PathError{Op: "lstat", Path: p, Err: err}
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if err := walk(ctx, p, fn); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			continue
		}
		fn(&st)
	}
	return nil
}
