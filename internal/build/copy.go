package build

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/mount"
)

// copyPlan is a COPY or ADD worked out before it runs: its sources and
// their checksum (the cache key needs it).
type copyPlan struct {
	sources   []copySource
	dest      string
	destDir   bool
	fromKey   string // --from: the stage key or image ID
	fromRefs  []string
	fromWords []string // the sources as written (--parents' pivot)
	flags     *copyFlags
	fromSt    *stageState // --from a stage
	fromImg   *baseImg
	heredocs  []heredocFile
	urls      []urlFile
	sum       string
	files     map[string]string
}

type copySource struct {
	rel   string
	isDir bool
	files []ctxFile
	keep  string // --parents: the path recreated under the destination
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
	env := st.env()
	flags, err := r.copyFlagsOf(c, env)
	if err != nil {
		return nil, err
	}
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
	p := &copyPlan{files: map[string]string{}, flags: flags}
	dest := words[len(words)-1]
	srcs := words[:len(words)-1]
	p.destDir = strings.HasSuffix(dest, "/") || strings.HasSuffix(dest, "/.") || dest == "." || len(srcs) > 1 || flags.parents
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
			p.fromWords = append(p.fromWords, s)
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
			isDir := info != nil && info.IsDir()
			files = flags.filter(rel, isDir, files)
			src := copySource{rel: rel, isDir: isDir, files: files, keep: flags.kept(s, rel)}
			p.sources = append(p.sources, src)
			for _, f := range files {
				ctxPath := path.Join(rel, f.dst)
				if !src.isDir {
					ctxPath = rel
				}
				p.files[ctxPath] = f.digest
				fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\n", rel, src.keep, f.dst, f.digest)
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
		dirBase := p.dest
		switch {
		case s.keep != "":
			base = path.Join(p.dest, s.keep)
			dirBase = base
		case !s.isDir && destDir:
			base = path.Join(p.dest, path.Base(s.rel))
		}
		if s.isDir {
			if err := w.mkdirAll(dirBase, true); err != nil {
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
				dst = path.Join(dirBase, f.dst)
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
	for i, ref := range p.fromRefs {
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
			isDir := info != nil && info.IsDir()
			files = p.flags.filter(rel, isDir, files)
			sources = append(sources, copySource{rel: rel, isDir: isDir, files: files, keep: p.flags.kept(p.fromWords[i], rel)})
		}
	}
	// Files from an image keep their owners unless --chown says otherwise.
	w.keepOwner = !w.own.set
	return r.copySources(ctx, w, src, sources, p, false)
}

func digestOf(s string) digest.Digest { return digest.Digest(s) }
