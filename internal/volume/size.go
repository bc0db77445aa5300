package volume

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Size is the bytes a volume's data takes, -1 when it cannot be told.
func (s *Service) Size(ctx context.Context, name string) int64 {
	n, err := dirSize(ctx, s.Path(name))
	if err != nil {
		return -1
	}
	return n
}

// dirSize adds up the sizes of the regular files under dir, each hard
// link once, as Docker's directory.Size does. Symlinks are not followed
// and other filesystems mounted below are not entered.
func dirSize(ctx context.Context, dir string) (int64, error) {
	root, err := os.Lstat(dir)
	if err != nil {
		return 0, err
	}
	rootDev := root.Sys().(*syscall.Stat_t).Dev
	seen := map[uint64]bool{}
	var total int64
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st := info.Sys().(*syscall.Stat_t)
		if d.IsDir() && p != dir && st.Dev != rootDev {
			return filepath.SkipDir
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		if st.Nlink > 1 {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		total += info.Size()
		return nil
	})
	return total, err
}
