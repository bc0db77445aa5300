package container

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/archive"
	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Copying files in and out of a container (`cp`, the archive API). Every
// path is resolved with openat2(RESOLVE_IN_ROOT) against the container's
// root: a symlink in the container, absolute, climbing ("../../..") or
// swapped in meanwhile, resolves inside it, never on the host. What is
// read is archived from descriptors opened that way, entries below them
// opened with O_NOFOLLOW; what is written is unpacked by internal/archive
// into the destination directory opened that way.

// fileNotFound is Docker's message for a path missing in a container.
func fileNotFound(p, ref string) error {
	return errdefs.NotFound("Could not find the file %s in container %s", p, ref)
}

// containerPath is p absolute in the container, keeping a trailing "/"
// or "/." (they change what is copied, as Docker's).
func containerPath(p string) string {
	abs := path.Join("/", p)
	switch {
	case strings.HasSuffix(p, "/.") || p == ".":
		if abs == "/" {
			return "/."
		}
		return abs + "/."
	case strings.HasSuffix(p, "/") && abs != "/":
		return abs + "/"
	}
	return abs
}

// located is a path found in a container: its parent directory resolved
// in the root, and the last element, not followed ("" when the path names
// the directory itself: "/", "x/", "x/.").
type located struct {
	abs    string   // the path asked for, absolute in the container
	parent *os.File // O_PATH directory
	base   string
	st     unix.Stat_t
}

func (l *located) Close() { l.parent.Close() }

func (l *located) isDir() bool { return l.st.Mode&unix.S_IFMT == unix.S_IFDIR }

// locate finds p as Docker does: the directory part resolved with every
// symlink followed inside the root, the last element itself (a symlink is
// not followed).
func locate(root *os.File, p string) (*located, error) {
	abs := containerPath(p)
	dir, base := path.Split(abs)
	if base == "." {
		base = ""
	}
	parent, err := resolveInRoot(root, dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	l := &located{abs: abs, parent: parent, base: base}
	if base == "" {
		err = unix.Fstat(int(parent.Fd()), &l.st)
	} else {
		err = unix.Fstatat(int(parent.Fd()), base, &l.st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		parent.Close()
		return nil, &os.PathError{Op: "stat", Path: abs, Err: err}
	}
	return l, nil
}

// pathStat is Docker's stat of a located path; a symlink's LinkTarget is
// where it leads, resolved inside the root.
func pathStat(root *os.File, rootPath string, l *located) container.PathStat {
	name := path.Base(strings.TrimSuffix(l.abs, "/"))
	if l.abs == "/" {
		name = "/"
	}
	st := container.PathStat{
		Name:  name,
		Size:  l.st.Size,
		Mode:  fileMode(l.st.Mode),
		Mtime: time.Unix(l.st.Mtim.Unix()).UTC(),
	}
	if l.st.Mode&unix.S_IFMT == unix.S_IFLNK {
		st.LinkTarget = linkTarget(root, rootPath, l)
	}
	return st
}

// linkTarget is where the symlink l leads inside the root. A dangling
// one leads to its target's path, its directory resolved in the root.
func linkTarget(root *os.File, rootPath string, l *located) string {
	if f, err := resolveInRoot(root, l.abs, unix.O_PATH); err == nil {
		defer f.Close()
		if p, err := pathInRoot(f, rootPath); err == nil {
			return p
		}
	}
	target, err := readlinkat(l.parent, l.base)
	if err != nil {
		return ""
	}
	if !path.IsAbs(target) {
		target = path.Join(path.Dir(l.abs), target)
	}
	target = path.Join("/", target)
	dir, base := path.Split(target)
	if f, err := resolveInRoot(root, dir, unix.O_PATH|unix.O_DIRECTORY); err == nil {
		defer f.Close()
		if p, err := pathInRoot(f, rootPath); err == nil {
			return path.Join(p, base)
		}
	}
	return target
}

func readlinkat(dir *os.File, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(int(dir.Fd()), name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// fileMode turns a stat mode into Go's, as os.Lstat does.
func fileMode(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= os.ModeDir
	case unix.S_IFLNK:
		mode |= os.ModeSymlink
	case unix.S_IFBLK:
		mode |= os.ModeDevice
	case unix.S_IFCHR:
		mode |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFIFO:
		mode |= os.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= os.ModeSocket
	}
	if m&unix.S_ISUID != 0 {
		mode |= os.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= os.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= os.ModeSticky
	}
	return mode
}

// pathError turns a failed lookup into Docker's answer.
func pathError(err error, p, ref string) error {
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return fileNotFound(p, ref)
	}
	if errors.Is(err, unix.ELOOP) {
		return errdefs.Invalid("%s in container %s: too many levels of symbolic links", p, ref)
	}
	return err
}

// StatPath is HEAD /containers/{id}/archive: what p is in the container.
func (s *Service) StatPath(ctx context.Context, ref, p string) (container.PathStat, error) {
	e, err := s.lookup(ref)
	if err != nil {
		return container.PathStat{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var st container.PathStat
	err = s.withRootFS(ctx, e, true, func(root *os.File, rootPath string) error {
		l, err := locate(root, p)
		if err != nil {
			return pathError(err, p, ref)
		}
		defer l.Close()
		st = pathStat(root, rootPath, l)
		return nil
	})
	return st, err
}

// ArchivePath is GET /containers/{id}/archive: a tar of p, named as
// Docker names it (a directory's entries under the directory's name, a
// symlink as itself). start receives the stat before the first byte and
// returns where the tar goes.
func (s *Service) ArchivePath(ctx context.Context, ref, p string, start func(container.PathStat) (io.Writer, error)) error {
	e, err := s.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	err = s.withRootFS(ctx, e, true, func(root *os.File, rootPath string) error {
		l, err := locate(root, p)
		if err != nil {
			return pathError(err, p, ref)
		}
		defer l.Close()
		if archive.IsKernelFS(int(l.parent.Fd())) && !(l.isDir() && l.base == "") {
			// /proc/..., /sys/...: the kernel's, not the container's files.
			return fileNotFound(p, ref)
		}
		st := pathStat(root, rootPath, l)
		var src *os.File
		if l.isDir() {
			// Opened again, readable, and never through a symlink swapped
			// in since the stat.
			if l.base == "" {
				src, err = os.OpenFile(fdPath(l.parent), unix.O_RDONLY|unix.O_DIRECTORY, 0)
			} else {
				src, err = openAt(l.parent, l.base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
			}
			if err != nil {
				return pathError(err, p, ref)
			}
			defer src.Close()
		}
		w, err := start(st)
		if err != nil {
			return err
		}
		if l.isDir() {
			return tarDir(ctx, w, src, st.Name)
		}
		return tarOne(w, l, st.Name)
	})
	if err == nil {
		s.publish("archive-path", &e.rec, nil)
	}
	return err
}

func openAt(dir *os.File, name string, flags int) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// tarDir writes the directory dir as name/ and everything under it.
func tarDir(ctx context.Context, w io.Writer, dir *os.File, name string) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(dir.Fd()), &st); err != nil {
		return err
	}
	name = strings.TrimSuffix(name, "/")
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(headerOf(&st, name+"/", tar.TypeDir)); err != nil {
		return err
	}
	if archive.IsKernelFS(int(dir.Fd())) {
		return tw.Close() // /proc, /sys: the directory alone
	}
	// Not closed: archive.Tar goes on in the same stream and ends it.
	if err := tw.Flush(); err != nil {
		return err
	}
	return archive.Tar(ctx, fdPath(dir), w, archive.TarOptions{Prefix: name + "/", SkipKernelFS: true})
}

func headerOf(st *unix.Stat_t, name string, typ byte) *tar.Header {
	return &tar.Header{
		Typeflag: typ,
		Name:     name,
		Mode:     int64(st.Mode & 0o7777),
		Uid:      int(st.Uid),
		Gid:      int(st.Gid),
		ModTime:  time.Unix(st.Mtim.Sec, 0),
		Format:   tar.FormatPAX,
	}
}

// tarOne writes the single non-directory l as name.
func tarOne(w io.Writer, l *located, name string) error {
	tw := tar.NewWriter(w)
	st := &l.st
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		f, err := openAt(l.parent, l.base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
		if err != nil {
			return err
		}
		defer f.Close()
		var fst unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &fst); err != nil {
			return err
		}
		if fst.Mode&unix.S_IFMT != unix.S_IFREG {
			return errdefs.Conflict("%s changed while being copied", l.abs)
		}
		hdr := headerOf(&fst, name, tar.TypeReg)
		hdr.Size = fst.Size
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		n, err := io.CopyN(tw, f, fst.Size)
		if err != nil && !(errors.Is(err, io.EOF) && n < fst.Size) {
			return err
		}
		if n < fst.Size {
			return errdefs.Conflict("%s shrank while being copied", l.abs)
		}
	case unix.S_IFLNK:
		target, err := readlinkat(l.parent, l.base)
		if err != nil {
			return err
		}
		hdr := headerOf(st, name, tar.TypeSymlink)
		hdr.Linkname = target
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		typ := byte(tar.TypeFifo)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			typ = tar.TypeChar
		case unix.S_IFBLK:
			typ = tar.TypeBlock
		}
		hdr := headerOf(st, name, typ)
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
	}
	// A socket gives an empty archive, as tar cannot hold one.
	return tw.Close()
}

// ExtractOptions are PUT /containers/{id}/archive's parameters.
type ExtractOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory or the other way round.
	NoOverwriteDirNonDir bool
	// CopyUIDGID gives every entry the container's user (when it has one),
	// as Docker's -a does; otherwise entries keep the tar's owners.
	CopyUIDGID bool
}

// ExtractToDir is PUT /containers/{id}/archive: the tar r (compressed or
// not) unpacked into the directory p of the container, running or not.
// p is resolved inside the container's root, a symlink as the last
// element included; entries cannot leave that directory.
func (s *Service) ExtractToDir(ctx context.Context, ref, p string, r io.Reader, opts ExtractOptions) error {
	e, err := s.lookup(ref)
	if err != nil {
		return err
	}
	// Decompressed here, by the daemon: never by a program of the
	// container's.
	rc, _, err := archive.Decompress(r)
	if err != nil {
		return err
	}
	defer rc.Close()
	e.mu.Lock()
	defer e.mu.Unlock()
	rec := &e.rec
	err = s.withRootFS(ctx, e, true, func(root *os.File, rootPath string) error {
		dest, err := resolveInRoot(root, path.Join("/", p), unix.O_PATH)
		if err != nil {
			return pathError(err, p, ref)
		}
		defer dest.Close()
		var st unix.Stat_t
		if err := unix.Fstat(int(dest.Fd()), &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return errdefs.Invalid("extraction point is not a directory")
		}
		// A read-only root file system refuses, a volume or bind on it
		// may take the files (as Docker's).
		var rootSt unix.Stat_t
		if err := unix.Fstat(int(root.Fd()), &rootSt); err != nil {
			return err
		}
		if rec.HostConfig != nil && rec.HostConfig.ReadonlyRootfs && st.Dev == rootSt.Dev {
			return errdefs.Invalid("container rootfs is marked read-only")
		}
		aopts := archive.ApplyOptions{Whiteouts: archive.LiteralWhiteouts, NoOverwriteDirNonDir: opts.NoOverwriteDirNonDir}
		if opts.CopyUIDGID && rec.Config != nil && rec.Config.User != "" {
			u, err := resolveUser(fdPath(root), rec.Config.User, nil)
			if err != nil {
				return err
			}
			aopts.Owner = &archive.Owner{UID: int(u.UID), GID: int(u.GID)}
		}
		_, err = archive.Apply(ctx, fdPath(dest), rc, aopts)
		if errors.Is(err, unix.EROFS) {
			return errdefs.Invalid("mounted volume is marked read-only")
		}
		return err
	})
	if err != nil {
		return err
	}
	s.publish("extract-to-dir", rec, nil)
	return nil
}
