package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// WhiteoutMode says what Apply makes of whiteout entries.
type WhiteoutMode int

const (
	// OverlayWhiteouts (the default) is for unpacking a layer into its own
	// directory that will be an overlayfs lower layer: ".wh.NAME" becomes a
	// 0/0 character device NAME, ".wh..wh..opq" sets the xattr
	// trusted.overlay.opaque="y" on its directory.
	OverlayWhiteouts WhiteoutMode = iota
	// ApplyWhiteouts is for unpacking onto an existing merged tree
	// (flattening, import onto a rootfs): ".wh.NAME" removes NAME, an opaque
	// marker empties the directory of what earlier layers put there.
	ApplyWhiteouts
	// LiteralWhiteouts is for archives that are not layers (`cp` into a
	// container): ".wh.NAME" is a file like any other.
	LiteralWhiteouts
)

// ApplyOptions change how Apply unpacks.
type ApplyOptions struct {
	Whiteouts WhiteoutMode
	// NoDevices refuses (errdefs.Invalid naming the entry) block and
	// character device and fifo entries instead of creating them. Overlay
	// whiteouts are still made.
	NoDevices bool
	// NoOwnership leaves every entry owned by the caller (rootless, tests);
	// by default entries keep the tar's numeric uid and gid.
	NoOwnership bool
	// Owner, when set, owns every entry instead of the tar's uid and gid
	// (`cp -a` into a container with a user).
	Owner *Owner
	// NoOverwriteDirNonDir refuses an entry that would replace a directory
	// with something else, or something else with a directory (`cp`).
	NoOverwriteDirNonDir bool
}

// Owner is a numeric uid and gid.
type Owner struct{ UID, GID int }

// The names of the whiteout convention (OCI image spec, from AUFS).
const (
	whiteoutPrefix     = ".wh."
	whiteoutMetaPrefix = ".wh..wh."
	whiteoutOpaque     = ".wh..wh..opq"
	paxXattrPrefix     = "SCHILY.xattr."
	overlayXattrPrefix = "trusted.overlay."
	overlayUserPrefix  = "user.overlay."
	overlayOpaqueXattr = "trusted.overlay.opaque"
)

// maxCachedDirs bounds the open directory descriptors kept between entries.
const maxCachedDirs = 128

// Apply unpacks an uncompressed tar stream into dir, which must exist. It
// returns the number of bytes read from r, which is r's whole length (the
// trailing padding is read too): the layer's uncompressed size.
//
// No entry creates, modifies or follows anything outside dir: names that
// climb out ("../x") are refused, absolute names are taken relative to dir,
// and every parent directory is resolved with openat2(RESOLVE_IN_ROOT), so a
// symlink in the layer (to "/etc" or "../../etc") resolves inside dir. The
// last component of a name is never followed: a file replaces a symlink of
// the same name. Hardlinks must point at an earlier entry inside dir.
//
// Modes (with setuid, setgid, sticky), owners, mtimes (directories' after
// their contents), xattrs (PAX SCHILY.xattr.*, except overlayfs's own, which
// a layer could use to redirect lookups) and hardlinks are kept. Missing
// parent directories are made 0755. A later entry replaces an earlier one at
// the same path; a directory over a directory merges. Nothing is fsynced:
// call Sync once for the layer.
func Apply(ctx context.Context, dir string, r io.Reader, opts ApplyOptions) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, wrapPathErr("open layer directory", dir, err)
	}
	a := &applier{
		opts:    opts,
		root:    root,
		dirs:    make(map[string]int),
		pending: make(map[string]dirMeta),
		buf:     make([]byte, copyBufferSize),
	}
	if opts.Whiteouts == ApplyWhiteouts {
		a.created = make(map[string]struct{})
	}
	defer a.close()
	a.initPlain()

	cr := &countingReader{r: r, done: ctx.Done()}
	// Headers are read 512 bytes at a time; the buffer turns that into few
	// reads of r (a pipe or a decompressor).
	tr := tar.NewReader(bufio.NewReaderSize(cr, 256<<10))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return cr.n, a.readErr(ctx, cr, err)
		}
		a.name = hdr.Name
		err = a.entry(hdr, tr)
		a.closeRetired()
		if err != nil {
			if cr.err != nil {
				return cr.n, a.readErr(ctx, cr, err)
			}
			return cr.n, err
		}
	}
	// The rest is the end-of-archive padding; reading it makes the count
	// (and a digest the caller takes over r) cover the whole stream.
	if _, err := io.CopyBuffer(io.Discard, cr, a.buf); err != nil {
		return cr.n, a.readErr(ctx, cr, err)
	}
	if err := a.finishDirs(); err != nil {
		return cr.n, err
	}
	return cr.n, nil
}

// readErr classes an error met while reading the stream: the context's
// end, the reader's own failure (its class kept: a network or store error
// is not the layer's fault), or a malformed tar.
func (a *applier) readErr(ctx context.Context, cr *countingReader, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if cr.err != nil {
		return fmt.Errorf("reading layer: %w", cr.err)
	}
	return errdefs.Invalid("reading layer tar: %w", err)
}

// countingReader counts what it reads and stops when the context ends, so a
// cancelled pull stops inside a large file too. It keeps the reader's error
// so that it is not mistaken for a malformed tar.
type countingReader struct {
	r    io.Reader
	n    int64
	done <-chan struct{}
	err  error
}

func (c *countingReader) Read(p []byte) (int, error) {
	select {
	case <-c.done:
		return 0, context.Canceled
	default:
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// dirMeta is what is set on a directory once everything inside it is written.
type dirMeta struct {
	mode         uint32
	atime, mtime time.Time
}

type applier struct {
	opts ApplyOptions
	root int
	name string // the current entry's name as in the tar, for messages

	// dirs caches O_PATH descriptors of directories by their cleaned layer
	// path, so consecutive entries in one directory resolve it once.
	// Removing a directory or a symlink empties it (the path may now name
	// something else). Descriptors leave the cache into retired and are
	// closed between entries, never under an entry still using them.
	dirs    map[string]int
	retired []int

	pending map[string]dirMeta  // directories' mode and times, set at the end
	created map[string]struct{} // paths this layer made (ApplyWhiteouts only: opaque markers keep them)
	buf     []byte

	// Most entries are root-owned with plain modes; in a directory this
	// Apply made, a new entry is already owned by us and gets its mode
	// minus the umask, so the chown and chmod can be skipped. plain holds
	// those directories (no setgid until finishDirs, no default ACL);
	// trusted is off when a default ACL may be inherited.
	plain      map[string]struct{}
	trusted    bool
	euid, egid int
	umask      uint32
}

func (a *applier) close() {
	for _, fd := range a.dirs {
		unix.Close(fd)
	}
	a.dirs = nil
	a.closeRetired()
	unix.Close(a.root)
}

func (a *applier) closeRetired() {
	for _, fd := range a.retired {
		unix.Close(fd)
	}
	a.retired = a.retired[:0]
}

// forgetDirs empties the directory cache after something that may have been
// a directory or a symlink was removed.
func (a *applier) forgetDirs() {
	a.evictDirs()
	// A path may now lead elsewhere (a symlink in place of a directory).
	clear(a.plain)
}

// evictDirs empties the directory cache.
func (a *applier) evictDirs() {
	for p, fd := range a.dirs {
		a.retired = append(a.retired, fd)
		delete(a.dirs, p)
	}
}

// initPlain finds out whether new entries in directories made by this
// Apply will be owned by us with the mode asked minus the umask.
func (a *applier) initPlain() {
	a.plain = make(map[string]struct{})
	a.euid, a.egid = unix.Geteuid(), unix.Getegid()
	umask, ok := readUmask()
	if !ok {
		return
	}
	a.umask = umask
	var st unix.Stat_t
	if err := unix.Fstat(a.root, &st); err != nil {
		return
	}
	// A default ACL on the root would be inherited by every directory we
	// make and replace the umask in new modes.
	if _, err := unix.Getxattr(procPath(a.root, "."), "system.posix_acl_default", nil); err == nil {
		return
	}
	a.trusted = true
	if st.Mode&unix.S_ISGID == 0 {
		a.plain["."] = struct{}{}
	}
}

// readUmask reads the process umask without changing it (umask(2) can only
// set it, and setting it races with other goroutines).
func readUmask() (uint32, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			return uint32(m), err == nil
		}
	}
	return 0, false
}

// inPlain reports whether a new entry in dir starts out ours, with its
// creation mode minus the umask.
func (a *applier) inPlain(dir string) bool {
	if !a.trusted {
		return false
	}
	_, ok := a.plain[dir]
	return ok
}

// needChown reports whether a new entry in dir needs a chown to the tar's owner.
func (a *applier) needChown(hdr *tar.Header, dir string) bool {
	return !a.opts.NoOwnership && (hdr.Uid != a.euid || hdr.Gid != a.egid || !a.inPlain(dir))
}

// removed records that p and everything under it is gone.
func (a *applier) removed(p string) {
	a.forgetDirs()
	delete(a.pending, p)
	prefix := p + "/"
	if p == "." {
		prefix = ""
	}
	for k := range a.pending {
		if strings.HasPrefix(k, prefix) {
			delete(a.pending, k)
		}
	}
}

func (a *applier) markCreated(p string) {
	if a.created != nil {
		a.created[p] = struct{}{}
	}
}

// errorf makes an error about the current entry.
func (a *applier) errorf(op string, err error) error {
	switch {
	case errors.Is(err, errdefs.ErrInvalid):
		return err // already says which entry
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EDQUOT):
		return errdefs.Unavailable("layer entry %q: %s: %w", a.name, op, err)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return errdefs.Forbidden("layer entry %q: %s: %w", a.name, op, err)
	}
	return fmt.Errorf("layer entry %q: %s: %w", a.name, op, err)
}

// cleanName turns a tar name into a path relative to the layer root, "."
// for the root itself. Absolute names are relative to the root, as Docker
// takes them; relative names that climb out are refused.
func cleanName(name string) (string, bool) {
	var p string
	if strings.HasPrefix(name, "/") {
		p = strings.TrimLeft(path.Clean(name), "/")
		if p == "" {
			p = "."
		}
	} else {
		p = path.Clean(name)
		if p == ".." || strings.HasPrefix(p, "../") {
			return "", false
		}
	}
	return p, true
}

// split returns the directory and last component of a clean path.
func split(p string) (string, string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ".", p
	}
	return p[:i], p[i+1:]
}

func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	name, ok := cleanName(hdr.Name)
	if !ok {
		return errdefs.Invalid("layer entry %q climbs out of the layer root", hdr.Name)
	}
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return errdefs.Invalid("layer entry %q would replace the layer root", hdr.Name)
		}
		return a.rootDir(hdr)
	}
	if o := a.opts.Owner; o != nil {
		hdr.Uid, hdr.Gid = o.UID, o.GID
	}
	dir, base := split(name)
	if strings.HasPrefix(base, whiteoutPrefix) && a.opts.Whiteouts != LiteralWhiteouts {
		return a.whiteout(hdr, dir, base)
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		return a.file(hdr, r, name, dir, base)
	case tar.TypeDir:
		return a.dir(hdr, name, dir, base)
	case tar.TypeSymlink:
		return a.symlink(hdr, name, dir, base)
	case tar.TypeLink:
		return a.hardlink(hdr, name, dir, base)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return a.device(hdr, name, dir, base)
	case tar.TypeXGlobalHeader:
		return nil // global PAX records carry nothing we apply
	}
	return errdefs.Invalid("layer entry %q has unsupported type %q", hdr.Name, string(hdr.Typeflag))
}

// dirFD returns a descriptor of the directory at layer path p. Components
// that are plain directories are opened one by one from cached parents;
// a symlink sends the whole path through openat2(RESOLVE_IN_ROOT) so it
// resolves as it would with dir as "/". When create is set, missing
// directories are made (0755); otherwise a missing directory (or a file
// in the way) is returned as the bare ENOENT or ENOTDIR.
func (a *applier) dirFD(p string, create bool) (int, error) {
	if p == "." {
		return a.root, nil
	}
	if fd, ok := a.dirs[p]; ok {
		return fd, nil
	}
	parent, base := split(p)
	pfd, err := a.dirFD(parent, create)
	if err != nil {
		return -1, err
	}
	fd, err := openBeneath(pfd, base)
	if err == unix.ENOENT && create {
		if err := unix.Mkdirat(pfd, base, 0o755); err != nil && err != unix.EEXIST {
			return -1, a.errorf("create parent directory "+p, err)
		} else if err == nil {
			// umask must not change the documented 0755.
			if err := unix.Fchmodat(pfd, base, 0o755, 0); err != nil {
				return -1, a.errorf("chmod parent directory "+p, err)
			}
			a.markCreated(p)
			if a.inPlain(parent) {
				a.plain[p] = struct{}{}
			}
		}
		fd, err = openBeneath(pfd, base)
	}
	if err == unix.ELOOP {
		fd, err = openInRoot(a.root, p)
		if create && (err == unix.ENOENT || err == unix.ENOTDIR) {
			// A dangling symlink as parent: making its target would mean
			// following it to create things; refusing is simpler and safe.
			return -1, errdefs.Invalid("layer entry %q: parent %q is a symlink to a missing directory", a.name, p)
		}
	}
	if err != nil {
		if !create && (err == unix.ENOENT || err == unix.ENOTDIR) {
			return -1, err
		}
		if err == unix.ENOTDIR {
			return -1, errdefs.Invalid("layer entry %q: parent %q is not a directory", a.name, p)
		}
		if err == unix.ENOSYS {
			return -1, errdefs.Unavailable("openat2 is not available (Linux 5.6 or later is needed to unpack layers safely)")
		}
		return -1, a.errorf("open parent directory "+p, err)
	}
	if len(a.dirs) >= maxCachedDirs {
		a.evictDirs()
	}
	a.dirs[p] = fd
	return fd, nil
}

// openBeneath opens the directory base in pfd without following symlinks
// (ELOOP if base is one).
func openBeneath(pfd int, base string) (int, error) {
	return openat2(pfd, base, unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_BENEATH)
}

// openInRoot opens the directory p as if root were "/": symlinks, absolute
// or climbing, resolve inside root.
func openInRoot(root int, p string) (int, error) {
	return openat2(root, p, unix.RESOLVE_IN_ROOT|unix.RESOLVE_NO_MAGICLINKS)
}

func openat2(dfd int, p string, resolve uint64) (int, error) {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolve}
	for range 16 {
		fd, err := unix.Openat2(dfd, p, how)
		// EAGAIN: a rename elsewhere raced the scoped lookup; try again.
		if err != unix.EAGAIN && err != unix.EINTR {
			return fd, err
		}
	}
	return -1, unix.EAGAIN
}

// place runs mk to create base in pfd. When the name is taken it clears the
// way: an existing directory stays when keepDir (directories merge),
// anything else is removed without following it, and mk runs again.
// It reports whether an existing directory was kept.
func (a *applier) place(pfd int, name, base string, keepDir bool, mk func() error) (bool, error) {
	err := mk()
	if err != unix.EEXIST {
		return false, err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false, err
	}
	if a.opts.NoOverwriteDirNonDir && (st.Mode&unix.S_IFMT == unix.S_IFDIR) != keepDir {
		if keepDir {
			return false, errdefs.Invalid("cannot overwrite non-directory %q with directory %q", name, a.name)
		}
		return false, errdefs.Invalid("cannot overwrite directory %q with non-directory %q", name, a.name)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if keepDir {
			return true, nil
		}
		if err := removeAllAt(pfd, base); err != nil {
			return false, err
		}
		a.removed(name)
	case unix.S_IFREG, unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		// Not a directory nor a symlink: no cached path can go through it.
		if err := unix.Unlinkat(pfd, base, 0); err != nil {
			return false, err
		}
	default:
		if err := unix.Unlinkat(pfd, base, 0); err != nil {
			return false, err
		}
		a.forgetDirs()
	}
	return false, mk()
}

func (a *applier) file(hdr *tar.Header, r io.Reader, name, dir, base string) error {
	pfd, err := a.dirFD(dir, true)
	if err != nil {
		return err
	}
	mode := uint32(hdr.Mode) & 0o7777
	// Created with its final mode when the umask leaves it alone, no chmod
	// then. Setuid, setgid and sticky always go through fchmod after the
	// chown (which would clear them).
	createMode, chmod := uint32(0o600), true
	if a.inPlain(dir) && mode&^0o777 == 0 && mode&a.umask == 0 {
		createMode, chmod = mode, false
	}
	chown := a.needChown(hdr, dir)
	fd := -1
	if _, err := a.place(pfd, name, base, false, func() (err error) {
		fd, err = unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, createMode)
		return err
	}); err != nil {
		return a.errorf("create file", err)
	}
	defer unix.Close(fd)
	a.markCreated(name)
	if hdr.Size > 0 {
		n, err := io.CopyBuffer(fdWriter(fd), r, a.buf)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return err
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return errdefs.Invalid("layer entry %q: the stream ends inside its contents", hdr.Name)
			}
			var errno unix.Errno
			if errors.As(err, &errno) {
				return a.errorf("write", err)
			}
			return errdefs.Invalid("layer entry %q: reading contents: %w", hdr.Name, err)
		}
		if n != hdr.Size {
			return errdefs.Invalid("layer entry %q: %d bytes of contents, header says %d", hdr.Name, n, hdr.Size)
		}
	}
	if chown {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return a.errorf("chown", err)
		}
	}
	// After chown, which clears setuid and setgid.
	if chmod {
		if err := unix.Fchmod(fd, mode); err != nil {
			return a.errorf("chmod", err)
		}
	}
	if err := a.xattrs(hdr, func(k string, v []byte) error { return unix.Fsetxattr(fd, k, v, 0) }); err != nil {
		return err
	}
	ts := times(hdr)
	if err := futimens(fd, &ts); err != nil {
		return a.errorf("set times", err)
	}
	return nil
}

func (a *applier) dir(hdr *tar.Header, name, dir, base string) error {
	pfd, err := a.dirFD(dir, true)
	if err != nil {
		return err
	}
	// 0700 until the end: the tar's mode (say 0555) could keep us from
	// filling it when not root; finishDirs sets it.
	merged, err := a.place(pfd, name, base, true, func() error { return unix.Mkdirat(pfd, base, 0o700) })
	if err != nil {
		return a.errorf("create directory", err)
	}
	a.markCreated(name)
	if err := a.meta(hdr, pfd, base, merged || a.needChown(hdr, dir)); err != nil {
		return err
	}
	if !merged && a.inPlain(dir) {
		a.plain[name] = struct{}{}
	}
	// An inherited default ACL would set new entries' modes below it.
	if _, ok := hdr.PAXRecords[paxXattrPrefix+"system.posix_acl_default"]; ok {
		a.trusted = false
	}
	a.pending[name] = dirMeta{mode: uint32(hdr.Mode) & 0o7777, atime: hdr.AccessTime, mtime: hdr.ModTime}
	return nil
}

// rootDir applies a "./" entry's owner and xattrs to dir itself.
func (a *applier) rootDir(hdr *tar.Header) error {
	if !a.opts.NoOwnership {
		if err := unix.Fchownat(a.root, "", hdr.Uid, hdr.Gid, unix.AT_EMPTY_PATH); err != nil {
			return a.errorf("chown", err)
		}
	}
	path := procPath(a.root, ".")
	if err := a.xattrs(hdr, func(k string, v []byte) error { return unix.Setxattr(path, k, v, 0) }); err != nil {
		return err
	}
	a.pending["."] = dirMeta{mode: uint32(hdr.Mode) & 0o7777, atime: hdr.AccessTime, mtime: hdr.ModTime}
	return nil
}

func (a *applier) symlink(hdr *tar.Header, name, dir, base string) error {
	pfd, err := a.dirFD(dir, true)
	if err != nil {
		return err
	}
	// The target is content, stored as is; it is never followed by Apply.
	if _, err := a.place(pfd, name, base, false, func() error { return unix.Symlinkat(hdr.Linkname, pfd, base) }); err != nil {
		return a.errorf("create symlink", err)
	}
	a.markCreated(name)
	if err := a.meta(hdr, pfd, base, a.needChown(hdr, dir)); err != nil {
		return err
	}
	return a.setTimesAt(hdr, pfd, base)
}

func (a *applier) hardlink(hdr *tar.Header, name, dir, base string) error {
	target, ok := cleanName(hdr.Linkname)
	if !ok || target == "." {
		return errdefs.Invalid("layer entry %q links to %q, outside the layer", hdr.Name, hdr.Linkname)
	}
	if target == name {
		return nil // a link to itself changes nothing
	}
	tdir, tbase := split(target)
	tfd, err := a.dirFD(tdir, false)
	if err != nil {
		if err == unix.ENOENT || err == unix.ENOTDIR {
			return errdefs.Invalid("layer entry %q links to %q, which is not in the layer", hdr.Name, hdr.Linkname)
		}
		return err
	}
	pfd, err := a.dirFD(dir, true)
	if err != nil {
		return err
	}
	// Flags 0: a symlink target is linked itself, never followed.
	if _, err := a.place(pfd, name, base, false, func() error { return unix.Linkat(tfd, tbase, pfd, base, 0) }); err != nil {
		switch err {
		case unix.ENOENT:
			return errdefs.Invalid("layer entry %q links to %q, which is not in the layer", hdr.Name, hdr.Linkname)
		case unix.EPERM:
			return errdefs.Invalid("layer entry %q links to %q, which cannot be hardlinked (a directory?)", hdr.Name, hdr.Linkname)
		}
		return a.errorf("create hardlink", err)
	}
	a.markCreated(name)
	return nil
}

func (a *applier) device(hdr *tar.Header, name, dir, base string) error {
	if a.opts.NoDevices {
		return errdefs.Invalid("layer entry %q is a device node or fifo, which is not allowed here", hdr.Name)
	}
	var kind uint32
	switch hdr.Typeflag {
	case tar.TypeChar:
		kind = unix.S_IFCHR
	case tar.TypeBlock:
		kind = unix.S_IFBLK
	default:
		kind = unix.S_IFIFO
	}
	return a.node(hdr, name, dir, base, kind, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))))
}

// node makes a device, fifo or overlay whiteout (char 0/0) at dir/base.
func (a *applier) node(hdr *tar.Header, name, dir, base string, kind uint32, dev int) error {
	pfd, err := a.dirFD(dir, true)
	if err != nil {
		return err
	}
	perm := uint32(hdr.Mode) & 0o7777
	if _, err := a.place(pfd, name, base, false, func() error { return unix.Mknodat(pfd, base, kind|perm, dev) }); err != nil {
		return a.errorf("mknod", err)
	}
	a.markCreated(name)
	if err := a.meta(hdr, pfd, base, a.needChown(hdr, dir)); err != nil {
		return err
	}
	// Just made by us, so base is not a symlink; fchmodat follows.
	if err := unix.Fchmodat(pfd, base, perm, 0); err != nil {
		return a.errorf("chmod", err)
	}
	return a.setTimesAt(hdr, pfd, base)
}

// meta sets the owner (when chown) and xattrs of base in pfd, not
// following it.
func (a *applier) meta(hdr *tar.Header, pfd int, base string, chown bool) error {
	if chown && !a.opts.NoOwnership {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return a.errorf("chown", err)
		}
	}
	var path string
	return a.xattrs(hdr, func(k string, v []byte) error {
		if path == "" {
			path = procPath(pfd, base)
		}
		return unix.Lsetxattr(path, k, v, 0)
	})
}

func (a *applier) setTimesAt(hdr *tar.Header, pfd int, base string) error {
	ts := times(hdr)
	if err := unix.UtimesNanoAt(pfd, base, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return a.errorf("set times", err)
	}
	return nil
}

func times(hdr *tar.Header) [2]unix.Timespec {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	return [2]unix.Timespec{timespec(at), timespec(hdr.ModTime)}
}

// xattrs applies the entry's PAX xattrs with set. overlayfs's own are
// dropped: a layer must not steer the overlay (redirects, opaqueness other
// than by the whiteout convention). Refusals for namespaces the filesystem
// or our privileges do not allow are ignored.
func (a *applier) xattrs(hdr *tar.Header, set func(string, []byte) error) error {
	for k, v := range hdr.PAXRecords {
		if !strings.HasPrefix(k, paxXattrPrefix) {
			continue
		}
		name := k[len(paxXattrPrefix):]
		if strings.HasPrefix(name, overlayXattrPrefix) || strings.HasPrefix(name, overlayUserPrefix) {
			continue
		}
		if err := set(name, []byte(v)); err != nil && !xattrIgnorable(err) {
			return a.errorf("set xattr "+name, err)
		}
	}
	return nil
}

func (a *applier) whiteout(hdr *tar.Header, dir, base string) error {
	if base == whiteoutOpaque {
		return a.opaque(dir)
	}
	if strings.HasPrefix(base, whiteoutMetaPrefix) {
		return nil // AUFS bookkeeping (.wh..wh.plnk and the like), not content
	}
	target := base[len(whiteoutPrefix):]
	if target == "" || target == "." || target == ".." {
		return errdefs.Invalid("layer entry %q is a whiteout of nothing", hdr.Name)
	}
	name := path.Join(dir, target)
	if a.opts.Whiteouts == OverlayWhiteouts {
		return a.node(hdr, name, dir, target, unix.S_IFCHR, 0)
	}
	pfd, err := a.dirFD(dir, false)
	if err == unix.ENOENT || err == unix.ENOTDIR {
		return nil // nothing there to remove
	}
	if err != nil {
		return err
	}
	if err := removeAllAt(pfd, target); err != nil && err != unix.ENOENT {
		return a.errorf("remove whited-out "+target, err)
	}
	a.removed(name)
	return nil
}

func (a *applier) opaque(dir string) error {
	if a.opts.Whiteouts == OverlayWhiteouts {
		pfd, err := a.dirFD(dir, true)
		if err != nil {
			return err
		}
		// An O_PATH descriptor cannot carry xattr calls; open it for real.
		fd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return a.errorf("open opaque directory", err)
		}
		defer unix.Close(fd)
		if err := unix.Fsetxattr(fd, overlayOpaqueXattr, []byte("y"), 0); err != nil {
			return a.errorf("mark directory opaque", err)
		}
		return nil
	}
	pfd, err := a.dirFD(dir, false)
	if err == unix.ENOENT || err == unix.ENOTDIR {
		return nil
	}
	if err != nil {
		return err
	}
	// O_PATH descriptors cannot be read; open the directory for listing.
	fd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return a.errorf("open opaque directory", err)
	}
	err = a.removeNotCreated(fd, dir)
	unix.Close(fd)
	if err != nil {
		return a.errorf("empty opaque directory", err)
	}
	a.forgetDirs()
	return nil
}

// removeNotCreated removes what is in the directory dfd (layer path p) that
// this layer did not make: an opaque marker hides what earlier layers put
// there, whether it comes before or after this layer's own entries.
func (a *applier) removeNotCreated(dfd int, p string) error {
	names, err := readDirNames(dfd, nil)
	if err != nil {
		return err
	}
	for _, n := range names {
		child := path.Join(p, n)
		if _, ok := a.created[child]; !ok {
			if err := removeAllAt(dfd, n); err != nil && err != unix.ENOENT {
				return err
			}
			a.removed(child)
			continue
		}
		// Made by this layer; if it is a directory, it may have merged
		// into an older one whose contents go too.
		cfd, err := unix.Openat(dfd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.ENOTDIR || err == unix.ELOOP {
			continue
		}
		if err != nil {
			return err
		}
		err = a.removeNotCreated(cfd, child)
		unix.Close(cfd)
		if err != nil {
			return err
		}
	}
	return nil
}

// finishDirs sets directories' modes and times, deepest first, now that
// nothing more is written inside them.
func (a *applier) finishDirs() error {
	paths := make([]string, 0, len(a.pending))
	for p := range a.pending {
		paths = append(paths, p)
	}
	// A parent is a prefix of its children, so reverse order puts children first.
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	for _, p := range paths {
		m := a.pending[p]
		a.name = p
		var fd int
		var err error
		if p == "." {
			fd, err = unix.Openat(a.root, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		} else {
			dir, base := split(p)
			var pfd int
			pfd, err = a.dirFD(dir, false)
			if err == nil {
				// O_NOFOLLOW: if p became a symlink through some alias, it
				// is left alone rather than followed.
				fd, err = unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		a.closeRetired()
		if err == unix.ENOENT || err == unix.ENOTDIR || err == unix.ELOOP {
			continue // replaced or removed since
		}
		if err != nil {
			return a.errorf("open directory", err)
		}
		ts := [2]unix.Timespec{timespec(m.atime), timespec(m.mtime)}
		if m.atime.IsZero() {
			ts[0] = ts[1]
		}
		err = unix.Fchmod(fd, m.mode)
		if err == nil {
			err = futimens(fd, &ts)
		}
		unix.Close(fd)
		if err != nil {
			return a.errorf("set directory mode and times", err)
		}
	}
	return nil
}

// removeAllAt removes name in dfd and, if it is a directory, everything in
// it, never following a symlink.
func removeAllAt(dfd int, name string) error {
	err := unix.Unlinkat(dfd, name, 0)
	if err != unix.EISDIR {
		return err
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	names, err := readDirNames(fd, nil)
	if err == nil {
		for _, n := range names {
			if err = removeAllAt(fd, n); err != nil && err != unix.ENOENT {
				break
			}
			err = nil
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	return unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR)
}

// readDirNames lists an open directory (without "." and ".."), using buf
// (allocated when nil) for the raw entries. The descriptor's offset is left
// at the end.
func readDirNames(fd int, buf []byte) ([]string, error) {
	if buf == nil {
		buf = make([]byte, 32<<10)
	}
	var names []string
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return names, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}
