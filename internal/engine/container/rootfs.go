package container

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

func existsDirInRoot(root, path string) bool {
	f, err := openDirInRoot(root, path)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

func openDirInRoot(root, path string) (*os.File, error) {
	dir, err := os.Open(root)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	p := strings.TrimPrefix(path, "/")
	if p == "" {
		p = "."
	}
	fd, err := unix.Openat2(int(dir.Fd()), p, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

func mkdirat(parent *os.File, name string, uid, gid uint32) error {
	if err := unix.Mkdirat(int(parent.Fd()), name, 0o755); err != nil && err != unix.EEXIST {
		return err
	}
	return unix.Fchownat(int(parent.Fd()), name, int(uid), int(gid), unix.AT_SYMLINK_NOFOLLOW)
}
