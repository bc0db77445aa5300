package build

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	neturl "net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/archive"
	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/mount"
)

// copyPlan is a COPY or ADD worked out before it runs: its sources and
// their checksum (the cache key needs it).
type copyPlan struct {
	sources  []copySource
	dest     string
	destDir  bool
	fromKey  string // --from: the stage key or image ID
	fromRefs []string
	fromSt   *stageState // --from a stage
	fromImg  *baseImg
	heredocs []heredocFile
	urls     []urlFile
	sum      string
	files    map[string]string
}

type copySource struct {
	rel   string
	isDir bool
	files []ctxFile
}

// urlFile is an ADD of a URL, downloaded while planning (its content is
// part of the key).
type urlFile struct {
	name, path string
	mtime      time.Time
}

type heredocFile struct {
	name, content string
}

// planCopy expands a COPY/ADD's words, selects its files and checksums
// them.
func (r *buildRun) planCopy(ctx context.Context, st *stageState, c *Command) (*copyPlan, error) {
	upper := strings.ToUpper(c.Name)
	if _, ok := c.flag("parents"); ok {
		return nil, errdefs.Invalid("dockerfile line %d: %s --parents is not supported by gantry's builder yet", c.Line, upper)
	}
	if _, ok := c.flag("exclude"); ok {
		return nil, errdefs.Invalid("dockerfile line %d: %s --exclude is not supported by gantry's builder yet", c.Line, upper)
	}
	env := st.env()
	var words []string
	for _, w := range nodeWords(c.Node) {
		if strings.HasPrefix(w, "<<") && len(c.Node.Heredocs) > 0 {
			words = append(words, w)
			continue
		}
		x, err := expandWord(r.df, w, env)
		if err != nil {
			return nil, err
		}
		words = append(words, x)
	}
	if len(words) < 2 {
		return nil, parseError(c.Line, "%s requires at least two arguments, but only one was provided. Destination could not be determined", upper)
	}
	p := &copyPlan{files: map[string]string{}}
	dest := words[len(words)-1]
	srcs := words[:len(words)-1]
	p.destDir = strings.HasSuffix(dest, "/") || strings.HasSuffix(dest, "/.") || dest == "." || len(srcs) > 1
	if !path.IsAbs(dest) {
		wd := st.img.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		dest = path.Join(wd, dest)
	}
	p.dest = cleanPath(dest)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%v\x00%q\x00%q\n", c.Name, p.dest, p.destDir, c.flags("chown"), c.flags("chmod"))
	heredocs := map[string]string{}
	for _, hd := range c.Node.Heredocs {
		heredocs[hd.Name] = hd.Content
	}
	from, hasFrom := c.flag("from")
	if hasFrom {
		if c.Name == "add" {
			return nil, parseError(c.Line, "ADD does not take --from")
		}
		from, err := expandWord(r.df, from, st.meta.env())
		if err != nil {
			return nil, err
		}
		if j, ok := r.stageIndex(from, st.index); ok {
			p.fromSt = r.stageDone(j)
			p.fromKey = string(p.fromSt.key)
		} else {
			img, err := r.baseImage(ctx, from, st.out)
			if err != nil {
				return nil, err
			}
			p.fromImg = img
			p.fromKey = img.id.String()
		}
		for _, s := range srcs {
			clean, err := cleanSource(s)
			if err != nil {
				return nil, err
			}
			p.fromRefs = append(p.fromRefs, clean)
		}
		if len(srcs) == 1 && hasWildcard(srcs[0]) {
			p.destDir = true
		}
		fmt.Fprintf(h, "from:%s:%q", p.fromKey, p.fromRefs)
		p.sum = hex.EncodeToString(h.Sum(nil))
		return p, nil
	}
	for _, s := range srcs {
		if name, ok := strings.CutPrefix(s, "<<"); ok {
			name = strings.TrimLeft(name, "-")
			name = strings.Trim(name, `"'`)
			if content, ok := heredocs[name]; ok {
				p.heredocs = append(p.heredocs, heredocFile{name: name, content: content})
				fmt.Fprintf(h, "heredoc:%s:%s\n", name, content)
				continue
			}
		}
		if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
			if c.Name != "add" {
				return nil, errdefs.Invalid("dockerfile line %d: source can't be a URL for COPY", c.Line)
			}
			checksum, _ := c.flag("checksum")
			f, sum, err := r.download(ctx, s, checksum)
			if err != nil {
				return nil, err
			}
			p.urls = append(p.urls, f)
			p.files[s] = sum
			fmt.Fprintf(h, "url:%s:%s\n", s, sum)
			continue
		}
		if strings.HasPrefix(s, "git@") {
			return nil, errdefs.Invalid("dockerfile line %d: %s of a git repository is not supported", c.Line, upper)
		}
		rels, err := r.ctx.resolveSources(s)
		if err != nil {
			return nil, fmt.Errorf("%s failed: %w", upper, stripCopyFailed(err))
		}
		if hasWildcard(s) && len(rels) > 1 {
			p.destDir = true
		}
		for _, rel := range rels {
			files, err := r.ctx.collect(rel, nil)
			if err != nil {
				return nil, err
			}
			info, _ := r.ctx.root.Lstat(rel)
			src := copySource{rel: rel, isDir: info != nil && info.IsDir(), files: files}
			p.sources = append(p.sources, src)
			for _, f := range files {
				ctxPath := path.Join(rel, f.dst)
				if !src.isDir {
					ctxPath = rel
				}
				p.files[ctxPath] = f.digest
				fmt.Fprintf(h, "%s\x00%s\x00%s\n", rel, f.dst, f.digest)
			}
		}
	}
	p.sum = hex.EncodeToString(h.Sum(nil))
	return p, nil
}

func stripCopyFailed(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "COPY failed: ")
	return errdefs.Invalid("%s", msg)
}

// copy writes the planned files into a new layer: a writable snapshot on
// the stage's layers, mounted here (never in a container), whose upper
// directory becomes the layer.
func (r *buildRun) copy(ctx context.Context, st *stageState, c *Command, p *copyPlan) (err error) {
	snaps := r.b.images.Snapshots()
	key := "build-" + randomHex()
	ms, err := snaps.Prepare(ctx, key, st.top())
	if err != nil {
		return err
	}
	defer snaps.Remove(context.Background(), key)
	target := filepath.Join(r.b.tmpDir, key)
	if err := os.MkdirAll(target, 0o700); err != nil {
		return err
	}
	defer os.Remove(target)
	if err := mount.All(ctx, ms, target); err != nil {
		return err
	}
	mounted := true
	defer func() {
		if mounted {
			_ = mount.Unmount(context.Background(), target)
		}
	}()
	if err := r.copyInto(ctx, target, c, p); err != nil {
		return err
	}
	if err := mount.Unmount(ctx, target); err != nil {
		return err
	}
	mounted = false
	staged, err := snaps.TakeUpper(ctx, key)
	if err != nil {
		return err
	}
	defer staged.Abort()
	if err := clampTimes(staged.Dir, st.epoch); err != nil {
		return err
	}
	l, err := r.b.images.CommitLayer(ctx, staged, "", st.top())
	if err != nil {
		return err
	}
	r.b.compress(l.ChainID)
	st.img.RootFS.DiffIDs = append(st.img.RootFS.DiffIDs, l.DiffID)
	st.history(c.Original, false)
	return nil
}

func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// owner is who copied files belong to: --chown, else root.
type owner struct {
	uid, gid int
	set      bool
}

func (r *buildRun) copyInto(ctx context.Context, target string, c *Command, p *copyPlan) error {
	rootFd, err := unix.Open(target, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(rootFd)
	own := owner{}
	if v, ok := c.flag("chown"); ok {
		if own, err = resolveOwner(rootFd, v); err != nil {
			return errdefs.Invalid("dockerfile line %d: --chown=%s: %v", c.Line, v, err)
		}
	}
	var chmod *fs.FileMode
	if v, ok := c.flag("chmod"); ok {
		m, err := strconv.ParseUint(v, 8, 32)
		if err != nil || m > 0o7777 {
			return errdefs.Invalid("dockerfile line %d: invalid --chmod=%s: use an octal mode", c.Line, v)
		}
		fm := fs.FileMode(m)
		chmod = &fm
	}
	w := &treeWriter{rootFd: rootFd, own: own, chmod: chmod}
	defer w.close()
	if p.fromKey != "" {
		return r.copyFrom(ctx, w, p)
	}
	for _, u := range p.urls {
		dst := p.dest
		if p.destDir || w.isDir(p.dest) {
			dst = path.Join(p.dest, u.name)
		}
		f, err := os.Open(u.path)
		if err != nil {
			return err
		}
		err = w.writeFile(dst, f, 0o600, nil)
		f.Close()
		if err != nil {
			return err
		}
		if !u.mtime.IsZero() {
			if pfd, name, err := w.parentOf(dst); err == nil {
				ts := []unix.Timespec{unix.NsecToTimespec(u.mtime.UnixNano()), unix.NsecToTimespec(u.mtime.UnixNano())}
				_ = unix.UtimesNanoAt(pfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
			}
		}
	}
	for _, hd := range p.heredocs {
		dst := p.dest
		if p.destDir {
			dst = path.Join(p.dest, hd.name)
		}
		if err := w.writeFile(dst, strings.NewReader(hd.content), 0o644, nil); err != nil {
			return err
		}
	}
	return r.copySources(ctx, w, r.ctx, p.sources, p, c.Name == "add")
}

func (r *buildRun) copySources(ctx context.Context, w *treeWriter, src *buildContext, sources []copySource, p *copyPlan, add bool) error {
	// A file copied onto a directory of the image goes into it, as Docker
	// does even without a trailing slash.
	destDir := p.destDir || w.isDir(p.dest)
	for _, s := range sources {
		base := p.dest
		if !s.isDir && destDir {
			base = path.Join(p.dest, path.Base(s.rel))
		}
		if s.isDir {
			if err := w.mkdirAll(p.dest, true); err != nil {
				return err
			}
		}
		for _, f := range s.files {
			if err := ctx.Err(); err != nil {
				return err
			}
			dst := base
			srcPath := s.rel
			if s.isDir {
				dst = path.Join(p.dest, f.dst)
				srcPath = path.Join(s.rel, f.dst)
			}
			if add && !s.isDir && f.info.Mode().IsRegular() {
				done, err := w.maybeExtract(ctx, src, srcPath, p.dest)
				if err != nil {
					return err
				}
				if done {
					continue
				}
			}
			if err := w.copyEntry(src, srcPath, dst, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyFrom copies from another stage's or image's file system, mounted
// read-only for the copy.
func (r *buildRun) copyFrom(ctx context.Context, w *treeWriter, p *copyPlan) error {
	var chains []string
	if p.fromSt != nil {
		for _, c := range p.fromSt.chains() {
			chains = append(chains, c.String())
		}
	} else {
		for _, c := range chainIDs(p.fromImg.cfg.RootFS.DiffIDs) {
			chains = append(chains, c.String())
		}
	}
	snaps := r.b.images.Snapshots()
	key := "build-from-" + randomHex()
	var top string
	if len(chains) > 0 {
		top = chains[len(chains)-1]
	}
	ms, err := snaps.Prepare(ctx, key, digestOf(top))
	if err != nil {
		return err
	}
	defer snaps.Remove(context.Background(), key)
	target := filepath.Join(r.b.tmpDir, key)
	if err := os.MkdirAll(target, 0o700); err != nil {
		return err
	}
	defer os.Remove(target)
	if err := mount.All(ctx, ms, target); err != nil {
		return err
	}
	defer mount.Unmount(context.Background(), target)
	src, err := openContext(target, nil, nil)
	if err != nil {
		return err
	}
	defer src.Close()
	var sources []copySource
	for _, ref := range p.fromRefs {
		rels, err := src.resolveSources(ref)
		if err != nil {
			return fmt.Errorf("COPY --from failed: %w", stripCopyFailed(err))
		}
		for _, rel := range rels {
			files, err := src.collect(rel, nil)
			if err != nil {
				return err
			}
			info, _ := src.root.Lstat(rel)
			sources = append(sources, copySource{rel: rel, isDir: info != nil && info.IsDir(), files: files})
		}
	}
	// Files from an image keep their owners unless --chown says otherwise.
	w.keepOwner = !w.own.set
	return r.copySources(ctx, w, src, sources, p, false)
}

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

func digestOf(s string) digest.Digest { return digest.Digest(s) }

// download fetches an ADD URL into the builder's work directory, checked
// against --checksum when given; the file is removed with the build.
func (r *buildRun) download(ctx context.Context, rawURL, checksum string) (urlFile, string, error) {
	if checksum != "" {
		if _, err := digest.Parse(checksum); err != nil {
			return urlFile{}, "", errdefs.Invalid("invalid checksum %q: %v", checksum, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return urlFile{}, "", errdefs.Invalid("ADD %s: %v", rawURL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return urlFile{}, "", errdefs.Invalid("ADD %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return urlFile{}, "", errdefs.Invalid("ADD %s: %s", rawURL, resp.Status)
	}
	tmp, err := os.CreateTemp(r.b.tmpDir, "dl-")
	if err != nil {
		return urlFile{}, "", err
	}
	r.mu.Lock()
	r.cleanup = append(r.cleanup, tmp.Name())
	r.mu.Unlock()
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(tmp, h), resp.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return urlFile{}, "", fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	got := digest.NewDigest(digest.SHA256, h)
	if checksum != "" && digest.Digest(checksum) != got {
		if d := digest.Digest(checksum); d.Algorithm() != digest.SHA256 || d != got {
			return urlFile{}, "", errdefs.Invalid("ADD %s: checksum mismatch: expected %s, got %s", rawURL, checksum, got)
		}
	}
	name := "__unnamed__"
	if u, err := neturl.Parse(rawURL); err == nil && u.Path != "" && !strings.HasSuffix(u.Path, "/") {
		name = path.Base(u.Path)
	}
	f := urlFile{name: name, path: tmp.Name()}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		f.mtime = lm
	}
	return f, got.String(), nil
}
