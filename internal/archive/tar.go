package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// TarOptions change how Tar and Diff write.
type TarOptions struct {
	// ClampMtime, when not zero, sets every mtime later than it to it
	// (reproducible layers, SOURCE_DATE_EPOCH style).
	ClampMtime time.Time
	// Prefix goes before every name (and hardlink target): "dir/" makes the
	// entries of a directory archived under its own name (`cp`).
	Prefix string
	// SkipKernelFS writes directories on procfs, sysfs, cgroupfs and the
	// like without their contents (a running container's tree as its
	// process sees it, for `cp`).
	SkipKernelFS bool
}

// Tar writes the tree under dir as a tar stream: paths relative ("./" not
// included), directories with a trailing "/", depth first with each
// directory's names in byte order, numeric owners only (no user or group
// names), mtimes in whole seconds, xattrs as PAX SCHILY.xattr.* records
// (except trusted.overlay.*), and files sharing an inode as TypeLink
// entries pointing at the first of them. Sockets are left out: tar cannot
// hold them. The same tree always gives the same bytes.
func Tar(ctx context.Context, dir string, w io.Writer, opts TarOptions) error {
	return writeTree(ctx, dir, w, opts, false)
}

// Diff writes the layer tar of an overlayfs upper directory: like Tar, but a
// 0/0 character device NAME becomes an empty file ".wh.NAME", and a
// directory with trusted.overlay.opaque="y" (user.overlay.opaque with
// userxattr mounts) gets a ".wh..wh..opq" entry right after it. The upper
// directory must come from a mount without redirect_dir or metacopy (then a
// renamed directory or a chmod'ed file is not whole in the upper directory):
// such xattrs make Diff fail rather than write a wrong layer. The overlay
// should be unmounted, or at least idle, while Diff reads it.
func Diff(ctx context.Context, upper string, w io.Writer, opts TarOptions) error {
	return writeTree(ctx, upper, w, opts, true)
}

type inode struct{ dev, ino uint64 }

type treeWriter struct {
	ctx    context.Context
	done   <-chan struct{}
	tw     *tar.Writer
	diff   bool
	clamp  time.Time
	prefix string
	skipFS bool
	links  map[inode]string
	buf    []byte
	xbuf   []byte
	dirent []byte // getdents buffer; names are copied out before recursing
}

func writeTree(ctx context.Context, dir string, w io.Writer, opts TarOptions, diff bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return wrapPathErr("open", dir, err)
	}
	defer unix.Close(root)
	// tar writes headers in 512-byte pieces; one buffer makes few writes.
	bw := bufio.NewWriterSize(w, 256<<10)
	t := &treeWriter{
		ctx:    ctx,
		done:   ctx.Done(),
		tw:     tar.NewWriter(bw),
		diff:   diff,
		prefix: opts.Prefix,
		skipFS: opts.SkipKernelFS,
		links:  make(map[inode]string),
		buf:    make([]byte, copyBufferSize),
		dirent: make([]byte, 32<<10),
	}
	if !opts.ClampMtime.IsZero() {
		t.clamp = opts.ClampMtime.Truncate(time.Second)
	}
	if err := t.walk(root, ""); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return err
	}
	if err := t.tw.Close(); err != nil {
		return fmt.Errorf("writing tar: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing tar: %w", err)
	}
	return nil
}

func (t *treeWriter) mtime(st *unix.Stat_t) time.Time {
	m := time.Unix(st.Mtim.Sec, 0)
	if !t.clamp.IsZero() && m.After(t.clamp) {
		return t.clamp
	}
	return m
}

func (t *treeWriter) header(st *unix.Stat_t, name string, typ byte) *tar.Header {
	return &tar.Header{
		Typeflag: typ,
		Name:     t.prefix + name,
		Mode:     int64(st.Mode & 0o7777),
		Uid:      int(st.Uid),
		Gid:      int(st.Gid),
		ModTime:  t.mtime(st),
		// PAX when needed (long names, xattrs, big ids), plain ustar otherwise.
		Format: tar.FormatPAX,
	}
}

// walk writes the entries inside the open directory dfd, whose layer path
// (with trailing "/", or "" for the root) is prefix.
func (t *treeWriter) walk(dfd int, prefix string) error {
	names, err := readDirNames(dfd, t.dirent)
	if err != nil {
		return fmt.Errorf("reading directory %q: %w", prefix, err)
	}
	sort.Strings(names)
	for _, name := range names {
		select {
		case <-t.done:
			return t.ctx.Err()
		default:
		}
		if err := t.entry(dfd, prefix, name); err != nil {
			return err
		}
	}
	return nil
}

func (t *treeWriter) entry(dfd int, prefix, name string) error {
	rel := prefix + name
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return nil // removed while we read the directory
		}
		return fmt.Errorf("stat %q: %w", rel, err)
	}
	typ := st.Mode & unix.S_IFMT
	if typ == unix.S_IFSOCK {
		return nil
	}
	if t.diff && typ == unix.S_IFCHR && st.Rdev == 0 {
		hdr := t.header(&st, prefix+whiteoutPrefix+name, tar.TypeReg)
		hdr.Mode &= 0o777
		return t.write(hdr, rel)
	}
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		key := inode{uint64(st.Dev), st.Ino}
		if first, ok := t.links[key]; ok {
			hdr := t.header(&st, rel, tar.TypeLink)
			hdr.Linkname = t.prefix + first
			return t.write(hdr, rel)
		}
		t.links[key] = rel
	}
	switch typ {
	case unix.S_IFDIR:
		return t.dir(dfd, prefix, name, &st)
	case unix.S_IFREG:
		return t.file(dfd, rel, name, &st)
	case unix.S_IFLNK:
		hdr := t.header(&st, rel, tar.TypeSymlink)
		target, err := readlinkat(dfd, name, int(st.Size))
		if err != nil {
			return fmt.Errorf("readlink %q: %w", rel, err)
		}
		hdr.Linkname = target
		if err := t.pathXattrs(hdr, dfd, name); err != nil {
			return err
		}
		return t.write(hdr, rel)
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		tf := byte(tar.TypeFifo)
		switch typ {
		case unix.S_IFCHR:
			tf = tar.TypeChar
		case unix.S_IFBLK:
			tf = tar.TypeBlock
		}
		hdr := t.header(&st, rel, tf)
		if typ != unix.S_IFIFO {
			hdr.Devmajor = int64(unix.Major(st.Rdev))
			hdr.Devminor = int64(unix.Minor(st.Rdev))
		}
		if err := t.pathXattrs(hdr, dfd, name); err != nil {
			return err
		}
		return t.write(hdr, rel)
	}
	return fmt.Errorf("%q: unknown file type %#o", rel, typ)
}

func (t *treeWriter) dir(dfd int, prefix, name string, st *unix.Stat_t) error {
	rel := prefix + name + "/"
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %q: %w", rel, err)
	}
	defer unix.Close(fd)
	hdr := t.header(st, rel, tar.TypeDir)
	x, err := listXattrs(fd, "", &t.xbuf)
	if err != nil {
		return fmt.Errorf("xattrs of %q: %w", rel, err)
	}
	opaque := false
	if t.diff {
		if x[overlayXattrPrefix+"redirect"] != "" || x[overlayUserPrefix+"redirect"] != "" {
			return errdefs.Invalid("upper directory %q was renamed with overlayfs redirect_dir; mount the overlay with redirect_dir=off so the diff is complete", rel)
		}
		opaque = x[overlayOpaqueXattr] == "y" || x[overlayUserPrefix+"opaque"] == "y"
	}
	t.setXattrs(hdr, x)
	if err := t.write(hdr, rel); err != nil {
		return err
	}
	if opaque {
		opq := t.header(st, rel+whiteoutOpaque, tar.TypeReg)
		opq.Mode &= 0o777
		if err := t.write(opq, rel); err != nil {
			return err
		}
	}
	if t.skipFS && IsKernelFS(fd) {
		return nil
	}
	return t.walk(fd, rel)
}

// Magic numbers x/sys/unix does not name (linux/magic.h).
const (
	mqueueMagic   = 0x19800202
	configfsMagic = 0x62656570
)

// IsKernelFS reports whether the open file fd is on a filesystem the
// kernel makes up (procfs, sysfs, cgroupfs, debugfs, ...): nothing to copy,
// and some of it endless.
func IsKernelFS(fd int) bool {
	var st unix.Statfs_t
	if unix.Fstatfs(fd, &st) != nil {
		return false
	}
	switch st.Type {
	case unix.PROC_SUPER_MAGIC, unix.SYSFS_MAGIC, unix.CGROUP_SUPER_MAGIC, unix.CGROUP2_SUPER_MAGIC,
		unix.DEBUGFS_MAGIC, unix.TRACEFS_MAGIC, unix.SECURITYFS_MAGIC, unix.BPF_FS_MAGIC,
		unix.DEVPTS_SUPER_MAGIC, unix.PSTOREFS_MAGIC, mqueueMagic, configfsMagic:
		return true
	}
	return false
}

func (t *treeWriter) file(dfd int, rel, name string, st *unix.Stat_t) error {
	// O_NONBLOCK: a fifo swapped in since the stat must not block the read.
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %q: %w", rel, err)
	}
	defer unix.Close(fd)
	hdr := t.header(st, rel, tar.TypeReg)
	hdr.Size = st.Size
	x, err := listXattrs(fd, "", &t.xbuf)
	if err != nil {
		return fmt.Errorf("xattrs of %q: %w", rel, err)
	}
	if t.diff && (x[overlayXattrPrefix+"metacopy"] != "" || x[overlayUserPrefix+"metacopy"] != "") {
		return errdefs.Invalid("upper file %q is an overlayfs metacopy (its data is in a lower layer); mount the overlay with metacopy=off", rel)
	}
	t.setXattrs(hdr, x)
	if err := t.write(hdr, rel); err != nil {
		return err
	}
	if st.Size == 0 {
		return nil
	}
	n, err := io.CopyBuffer(t.tw, &fdReader{fd: fd, n: st.Size}, t.buf)
	if err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) {
			return fmt.Errorf("reading %q: %w", rel, err)
		}
		return fmt.Errorf("writing tar: %w", err)
	}
	if n != st.Size {
		return errdefs.Conflict("%q shrank from %d to %d bytes while being archived", rel, st.Size, n)
	}
	return nil
}

func (t *treeWriter) pathXattrs(hdr *tar.Header, dfd int, name string) error {
	x, err := listXattrs(-1, procPath(dfd, name), &t.xbuf)
	if err != nil {
		return fmt.Errorf("xattrs of %q: %w", hdr.Name, err)
	}
	t.setXattrs(hdr, x)
	return nil
}

// setXattrs records xattrs as PAX records; the tar writer sorts them, so the
// output does not depend on the filesystem's listing order.
func (t *treeWriter) setXattrs(hdr *tar.Header, x map[string]string) {
	for k, v := range x {
		if strings.HasPrefix(k, overlayXattrPrefix) || (t.diff && strings.HasPrefix(k, overlayUserPrefix)) {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = make(map[string]string, len(x))
		}
		hdr.PAXRecords[paxXattrPrefix+k] = v
	}
}

func (t *treeWriter) write(hdr *tar.Header, rel string) error {
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing tar header for %q: %w", rel, err)
	}
	return nil
}

// readlinkat reads a symlink's target; size is lstat's idea of its length.
func readlinkat(dfd int, name string, size int) (string, error) {
	n := max(size+1, 128)
	for {
		buf := make([]byte, n)
		m, err := unix.Readlinkat(dfd, name, buf)
		if err != nil {
			return "", err
		}
		if m < len(buf) {
			return string(buf[:m]), nil
		}
		n *= 2
	}
}
