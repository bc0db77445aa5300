package build

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/archive"
	"github.com/gantry-dev/gantry/internal/errdefs"
)

// treeWriter creates files inside a mounted root; every path is resolved
// with RESOLVE_IN_ROOT, so a symlink in the image cannot lead outside.
type treeWriter struct {
	rootFd    int
	dirs      map[string]int // open directories by path
	own       owner
	chmod     *fs.FileMode
	keepOwner bool
}

// openDir opens a directory of the root, once per copy: the descriptors
// are kept until close, callers do not close them.
func (w *treeWriter) openDir(p string) (int, error) {
	if fd, ok := w.dirs[p]; ok {
		return fd, nil
	}
	fd, err := w.openDirUncached(p)
	if err != nil {
		return -1, err
	}
	if w.dirs == nil {
		w.dirs = map[string]int{}
	}
	w.dirs[p] = fd
	return fd, nil
}

func (w *treeWriter) close() {
	for _, fd := range w.dirs {
		unix.Close(fd)
	}
	w.dirs = nil
}

func (w *treeWriter) openDirUncached(p string) (int, error) {
	rel := strings.TrimPrefix(p, "/")
	if rel == "" {
		rel = "."
	}
	return unix.Openat2(w.rootFd, rel, &unix.OpenHow{
		Flags:   unix.O_DIRECTORY | unix.O_RDONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
}

func (w *treeWriter) isDir(p string) bool {
	_, err := w.openDir(cleanPath(p))
	return err == nil
}

// mkdirAll makes the directory p and its missing parents; owned makes the
// new ones belong to --chown's owner.
func (w *treeWriter) mkdirAll(p string, owned bool) error {
	p = cleanPath(p)
	if _, err := w.openDir(p); err == nil {
		return nil
	}
	parent := path.Dir(p)
	if parent != p {
		if err := w.mkdirAll(parent, owned); err != nil {
			return err
		}
	}
	pfd, err := w.openDir(parent)
	if err != nil {
		return err
	}
	name := path.Base(p)
	if err := unix.Mkdirat(pfd, name, 0o755); err != nil && err != unix.EEXIST {
		return fmt.Errorf("mkdir %s: %w", p, err)
	}
	if w.own.set && owned {
		return unix.Fchownat(pfd, name, w.own.uid, w.own.gid, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

func (w *treeWriter) parentOf(dst string) (int, string, error) {
	dst = cleanPath(dst)
	if err := w.mkdirAll(path.Dir(dst), true); err != nil {
		return -1, "", err
	}
	pfd, err := w.openDir(path.Dir(dst))
	return pfd, path.Base(dst), err
}

func (w *treeWriter) ids(f *ctxFile) (int, int) {
	if w.own.set {
		return w.own.uid, w.own.gid
	}
	if w.keepOwner && f != nil {
		if st, ok := f.info.Sys().(*syscall.Stat_t); ok {
			return int(st.Uid), int(st.Gid)
		}
	}
	return 0, 0
}

// copyEntry copies one context entry to dst.
func (w *treeWriter) copyEntry(src *buildContext, srcPath, dst string, f ctxFile) error {
	mode := f.info.Mode()
	switch {
	case mode.IsDir():
		if dst == "/" {
			return nil
		}
		if err := w.mkdirAll(dst, true); err != nil {
			return err
		}
		pfd, name, err := w.parentOf(dst)
		if err != nil {
			return err
		}
		perm := uint32(mode.Perm()) | unixSpecial(mode)
		if w.chmod != nil {
			perm = uint32(*w.chmod)
		}
		uid, gid := w.ids(&f)
		if err := unix.Fchownat(pfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if err := unix.Fchmodat(pfd, name, perm, 0); err != nil {
			return err
		}
		return nil
	case mode&fs.ModeSymlink != 0:
		pfd, name, err := w.parentOf(dst)
		if err != nil {
			return err
		}
		_ = unix.Unlinkat(pfd, name, 0)
		if err := unix.Symlinkat(f.link, pfd, name); err != nil {
			return fmt.Errorf("symlink %s: %w", dst, err)
		}
		uid, gid := w.ids(&f)
		return unix.Fchownat(pfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	case mode.IsRegular():
		in, err := src.root.Open(srcPath)
		if err != nil {
			return src.statErr(srcPath, err)
		}
		defer in.Close()
		return w.writeFile(dst, in, mode, &f)
	default:
		// Devices, fifos and sockets in a context are not copied.
		return nil
	}
}

func unixSpecial(m fs.FileMode) uint32 {
	var out uint32
	if m&fs.ModeSetuid != 0 {
		out |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		out |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		out |= unix.S_ISVTX
	}
	return out
}

func (w *treeWriter) writeFile(dst string, r io.Reader, mode fs.FileMode, f *ctxFile) error {
	pfd, name, err := w.parentOf(dst)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return errdefs.Invalid("cannot copy to %s: it is a directory in the image", dst)
		}
		_ = unix.Unlinkat(pfd, name, 0)
	}
	perm := uint32(mode.Perm()) | unixSpecial(mode)
	if w.chmod != nil {
		perm = uint32(*w.chmod)
	}
	fd, err := unix.Openat(pfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	out := os.NewFile(uintptr(fd), dst)
	defer out.Close()
	if _, err := io.Copy(out, r); err != nil {
		return err
	}
	uid, gid := w.ids(f)
	if err := out.Chown(uid, gid); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, perm); err != nil {
		return err
	}
	if f != nil {
		mt := f.info.ModTime()
		ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
		_ = unix.UtimesNanoAt(pfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// maybeExtract is ADD of a local archive: a tar (plain, gzip or zstd) is
// unpacked into the destination directory instead of copied.
func (w *treeWriter) maybeExtract(ctx context.Context, src *buildContext, srcPath, dest string) (bool, error) {
	f, err := src.root.Open(srcPath)
	if err != nil {
		return false, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(512)
	if !isArchive(head) {
		return false, nil
	}
	dr, _, err := archive.Decompress(br)
	if err != nil {
		return false, nil
	}
	defer dr.Close()
	if err := w.mkdirAll(dest, true); err != nil {
		return false, err
	}
	dfd, err := w.openDir(cleanPath(dest))
	if err != nil {
		return false, err
	}
	// The destination by its descriptor: the extraction stays inside it.
	dir := fmt.Sprintf("/proc/self/fd/%d", dfd)
	if _, err := archive.Apply(ctx, dir, dr, archive.ApplyOptions{Whiteouts: archive.ApplyWhiteouts, NoDevices: true}); err != nil {
		return false, fmt.Errorf("ADD %s: %w", srcPath, err)
	}
	return true, nil
}

func isArchive(h []byte) bool {
	switch {
	case len(h) >= 2 && h[0] == 0x1f && h[1] == 0x8b:
		return true
	case len(h) >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd:
		return true
	case len(h) >= 262 && string(h[257:262]) == "ustar":
		return true
	}
	return false
}

// resolveOwner reads --chown's user[:group], names looked up in the
// image's /etc/passwd and /etc/group.
func resolveOwner(rootFd int, spec string) (owner, error) {
	u, g, hasG := strings.Cut(spec, ":")
	uid, err := lookupID(rootFd, "etc/passwd", u, 2)
	if err != nil {
		return owner{}, err
	}
	gid := uid
	if hasG {
		if gid, err = lookupID(rootFd, "etc/group", g, 2); err != nil {
			return owner{}, err
		}
	} else if _, err := strconv.Atoi(u); err != nil {
		// A user by name: the primary group from passwd.
		if gid, err = lookupID(rootFd, "etc/passwd", u, 3); err != nil {
			return owner{}, err
		}
	}
	return owner{uid: uid, gid: gid, set: true}, nil
}

func lookupID(rootFd int, file, name string, field int) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && field == 2 {
		return n, nil
	}
	fd, err := unix.Openat2(rootFd, file, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
	if err != nil {
		return 0, fmt.Errorf("unable to find user %s: no %s in the image", name, file)
	}
	f := os.NewFile(uintptr(fd), file)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), ":")
		if len(parts) > field && parts[0] == name {
			return strconv.Atoi(parts[field])
		}
	}
	return 0, fmt.Errorf("unable to find user %s: no matching entries in %s", name, file)
}
