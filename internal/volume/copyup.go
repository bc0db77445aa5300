package volume

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNotDir is a copy-up over a path of the image that is not a
// directory: a volume cannot be mounted there.
var ErrNotDir = errors.New("not a directory")

// CopyUp fills an empty volume with what the container's root filesystem
// has at dest, as Docker does when a new volume is mounted over a
// directory of the image: modes, owners, times, extended attributes,
// symlinks (as links), hard links, devices and FIFOs are kept.
//
// dest is resolved inside rootfs (a symlink in the image leads to another
// place of the image, never of the host), and nothing below it is
// followed: every entry is opened relative to its parent's descriptor
// with O_NOFOLLOW, on both sides. A volume that is not empty is left as
// it is. copied says whether anything was done.
func CopyUp(rootfs, dest, volumeData string) (copied bool, err error) {
	root, err := os.Open(rootfs)
	if err != nil {
		return false, err
	}
	defer root.Close()
	rel := strings.TrimPrefix(path.Clean("/"+dest), "/")
	if rel == "" {
		rel = "."
	}
	srcFd, err := unix.Openat2(int(root.Fd()), rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EXDEV) {
		// Nothing there in the image (or a mount, not the image's): the
		// runtime makes an empty mount point.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("opening %s in the container: %w", dest, err)
	}
	src := os.NewFile(uintptr(srcFd), dest)
	defer src.Close()
	var st unix.Stat_t
	if err := unix.Fstat(srcFd, &st); err != nil {
		return false, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return false, fmt.Errorf("cannot mount volume over existing file, file exists %s: %w", path.Join(rootfs, rel), ErrNotDir)
	}
	dstFd, err := unix.Open(volumeData, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	dst := os.NewFile(uintptr(dstFd), volumeData)
	defer dst.Close()
	names, err := dst.Readdirnames(-1)
	if err != nil && err != io.EOF {
		return false, err
	}
	switch {
	case slices.Contains(names, stageDone):
		// A copy that was complete when the daemon died: finish moving
		// it into place.
	case slices.Equal(names, []string{stagePartial}):
		// A copy cut short: start again.
		if err := os.RemoveAll(path.Join(volumeData, stagePartial)); err != nil {
			return false, err
		}
		fallthrough
	case len(names) == 0:
		if err := copyToStage(src, dst); err != nil {
			return true, fmt.Errorf("copying %s of the image into the volume: %w", dest, err)
		}
	default:
		return false, nil // not new: left as it is
	}
	if err := moveUp(dstFd); err != nil {
		return true, err
	}
	// The volume's own directory takes the image directory's owner and
	// mode, as Docker's copyOwnership does.
	c := &copier{}
	if err := c.attrs(srcFd, dstFd, &st); err != nil {
		return true, err
	}
	return true, nil
}

// The copy is made in a directory of the volume and named done, after a
// syncfs, by one rename; then its entries are moved up. A daemon killed
// at any point leaves a partial copy (removed and made again at the next
// start) or a done one (moved up then), never a volume that looks filled
// but is not.
const (
	stagePartial = ".gantry-copyup.partial"
	stageDone    = ".gantry-copyup.done"
)

func copyToStage(src, dst *os.File) error {
	dfd := int(dst.Fd())
	if err := unix.Mkdirat(dfd, stagePartial, 0o700); err != nil {
		return err
	}
	stage, err := openNoFollow(dfd, stagePartial, unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer stage.Close()
	c := &copier{links: map[inode]string{}, dstRoot: stage}
	if err := c.dir(src, stage, ""); err != nil {
		return err
	}
	if err := unix.Syncfs(int(stage.Fd())); err != nil {
		return err
	}
	if err := unix.Renameat(dfd, stagePartial, dfd, stageDone); err != nil {
		return err
	}
	return unix.Fsync(dfd)
}

// moveUp moves the done copy's entries into the volume's root.
func moveUp(dfd int) error {
	stage, err := openNoFollow(dfd, stageDone, unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer stage.Close()
	names, err := stage.Readdirnames(-1)
	if err != nil && err != io.EOF {
		return err
	}
	for _, n := range names {
		if err := unix.Renameat(int(stage.Fd()), n, dfd, n); err != nil {
			return fmt.Errorf("moving %s into the volume: %w", n, err)
		}
	}
	if err := unix.Unlinkat(dfd, stageDone, unix.AT_REMOVEDIR); err != nil {
		return err
	}
	return unix.Fsync(dfd)
}

type inode struct{ dev, ino uint64 }

type copier struct {
	links   map[inode]string // first copy of a hard-linked file, relative to dstRoot
	dstRoot *os.File
}

// dir copies the entries of src into dst; rel is dst's path below the
// volume's root.
func (c *copier) dir(src, dst *os.File, rel string) error {
	for {
		ents, err := src.ReadDir(256)
		for _, de := range ents {
			if err := c.entry(src, dst, rel, de.Name()); err != nil {
				return err
			}
		}
		if err == io.EOF || len(ents) == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (c *copier) entry(src, dst *os.File, rel, name string) error {
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	var st unix.Stat_t
	if err := unix.Fstatat(sfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	relName := path.Join(rel, name)
	perm := uint32(st.Mode) & 0o7777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dfd, name, 0o700); err != nil {
			return err
		}
		s, err := openNoFollow(sfd, name, unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		defer s.Close()
		d, err := openNoFollow(dfd, name, unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := c.dir(s, d, relName); err != nil {
			return err
		}
		return c.attrs(int(s.Fd()), int(d.Fd()), &st)
	case unix.S_IFREG:
		if st.Nlink > 1 {
			key := inode{uint64(st.Dev), st.Ino}
			if first, ok := c.links[key]; ok {
				return c.link(first, dfd, name)
			}
			c.links[key] = relName
		}
		s, err := openNoFollow(sfd, name, 0)
		if err != nil {
			return err
		}
		defer s.Close()
		fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		d := os.NewFile(uintptr(fd), name)
		defer d.Close()
		if _, err := io.Copy(d, s); err != nil {
			return err
		}
		return c.attrs(int(s.Fd()), fd, &st)
	case unix.S_IFLNK:
		target, err := readlinkat(sfd, name)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(target, dfd, name); err != nil {
			return err
		}
		if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		ts := []unix.Timespec{st.Atim, st.Mtim}
		return unix.UtimesNanoAt(dfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		if err := unix.Mknodat(dfd, name, (st.Mode&unix.S_IFMT)|perm, int(st.Rdev)); err != nil {
			return err
		}
		if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if err := unix.Fchmodat(dfd, name, perm, 0); err != nil {
			return err
		}
		ts := []unix.Timespec{st.Atim, st.Mtim}
		return unix.UtimesNanoAt(dfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// link makes name in dfd a hard link of the first copy, found from the
// volume's root without following any symlink.
func (c *copier) link(first string, dfd int, name string) error {
	dir, base := path.Split(first)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	pfd, err := unix.Openat2(int(c.dstRoot.Fd()), dir, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV,
	})
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	return unix.Linkat(pfd, base, dfd, name, 0)
}

// attrs gives an open copy the source's owner, mode, extended attributes
// and times, in the order that keeps each: chown clears set-id bits and
// file capabilities, so mode and xattrs come after it.
func (c *copier) attrs(srcFd, fd int, st *unix.Stat_t) error {
	if err := unix.Fchown(fd, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, uint32(st.Mode)&0o7777); err != nil {
		return err
	}
	if err := copyXattrs(srcFd, fd); err != nil {
		return err
	}
	tv := []unix.Timeval{unix.NsecToTimeval(st.Atim.Nano()), unix.NsecToTimeval(st.Mtim.Nano())}
	return unix.Futimes(fd, tv)
}

// copyXattrs copies every extended attribute the destination's
// filesystem takes; those it does not support or lets only others set
// (security.selinux on some hosts) are skipped, as an unpacked layer
// would lose them too.
func copyXattrs(src, dst int) error {
	size, err := unix.Flistxattr(src, nil)
	if err != nil || size == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return err
	}
	buf := make([]byte, size)
	size, err = unix.Flistxattr(src, buf)
	if err != nil {
		return err
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		n, err := unix.Fgetxattr(src, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, n)
		n, err = unix.Fgetxattr(src, name, val)
		if err != nil {
			continue
		}
		if err := unix.Fsetxattr(dst, name, val[:n], 0); err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("setting %s: %w", name, err)
		}
	}
	return nil
}

func openNoFollow(dirfd int, name string, flags int) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|flags, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
