package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/mount"
)

// mountFroms lists the stages or images a RUN's bind and cache mounts
// read from (from=), so the stages they name are built first.
func mountFroms(c *Command) []string {
	if c.Name != "run" {
		return nil
	}
	var out []string
	for _, spec := range c.flags("mount") {
		opts := parseMount(spec)
		if from := opts["from"]; from != "" && opts["type"] == "bind" {
			out = append(out, from)
		}
	}
	return out
}

// bindSource is where a bind mount's files come from: the context, a
// stage, or an image.
type bindSource struct {
	rel     string // the source path, cleaned, relative to its root
	fromSt  *stageState
	fromImg *baseImg
}

func (r *buildRun) bindSourceOf(ctx context.Context, st *stageState, c *Command, opts map[string]string) (*bindSource, error) {
	src := firstOf(opts, "source", "src")
	if src == "" {
		src = "."
	}
	rel, err := cleanSource(src)
	if err != nil {
		return nil, errdefs.Invalid("dockerfile line %d: --mount=type=bind,source=%s: %v", c.Line, src, err)
	}
	b := &bindSource{rel: rel}
	from := opts["from"]
	if from == "" {
		return b, nil
	}
	from, err = expandWord(r.df, from, st.meta.env())
	if err != nil {
		return nil, err
	}
	if j, ok := r.stageIndex(from, st.index); ok {
		b.fromSt = r.stageDone(j)
		return b, nil
	}
	if b.fromImg, err = r.baseImage(ctx, from, st.out); err != nil {
		return nil, err
	}
	return b, nil
}

// runMountInputs is what a RUN's bind mounts add to its cache key: the
// checksums of the context files it binds (so that a change to them runs
// the step again), or the key of the stage or the ID of the image bound.
func (r *buildRun) runMountInputs(ctx context.Context, st *stageState, c *Command) (string, map[string]string, error) {
	h := sha256.New()
	files := map[string]string{}
	n := 0
	for _, spec := range c.flags("mount") {
		opts := parseMount(spec)
		if opts["type"] != "bind" {
			continue
		}
		n++
		b, err := r.bindSourceOf(ctx, st, c, opts)
		if err != nil {
			return "", nil, err
		}
		switch {
		case b.fromSt != nil:
			fmt.Fprintf(h, "stage:%s:%s\n", b.fromSt.key, b.rel)
		case b.fromImg != nil:
			fmt.Fprintf(h, "image:%s:%s\n", b.fromImg.id, b.rel)
		default:
			if _, err := r.ctx.root.Lstat(b.rel); err != nil {
				return "", nil, bindStatErr(c, b.rel, r.ctx.statErr(b.rel, err))
			}
			list, err := r.ctx.collect(b.rel, nil)
			if err != nil {
				return "", nil, bindStatErr(c, b.rel, err)
			}
			for _, f := range list {
				p := path.Join(b.rel, f.dst)
				files[p] = f.digest
				fmt.Fprintf(h, "ctx:%s\x00%s\x00%s\n", b.rel, f.dst, f.digest)
			}
		}
	}
	if n == 0 {
		return "", nil, nil
	}
	return hex.EncodeToString(h.Sum(nil)), files, nil
}

func bindStatErr(c *Command, src string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "COPY failed: ")
	return errdefs.Invalid("dockerfile line %d: RUN --mount=type=bind,source=%s: %s", c.Line, src, msg)
}

// bindMount prepares a RUN --mount=type=bind. The source is opened below
// its root (the context: no symlink may lead out of it; a stage or an
// image: symlinks resolve inside it) and bound on a staging mount point,
// which the container then binds: the container never sees a path it
// could swap. It is read-only unless rw, and rw writes go to a copy
// (context) or a throw-away snapshot (stage, image): never into the layer
// nor back to the source.
func (r *buildRun) bindMount(ctx context.Context, st *stageState, c *Command, m *runMounts, opts map[string]string, target string) error {
	b, err := r.bindSourceOf(ctx, st, c, opts)
	if err != nil {
		return err
	}
	rw := boolOpt(opts, "rw", "readwrite")
	mode := "ro"
	if rw {
		mode = "rw"
	}
	dir, err := r.stagingDir(m, "bind-")
	if err != nil {
		return err
	}
	var src string
	if b.fromSt == nil && b.fromImg == nil {
		src, err = r.bindContext(ctx, c, m, dir, b.rel, rw)
	} else {
		src, err = r.bindLayers(ctx, c, m, dir, b)
	}
	if err != nil {
		return err
	}
	m.binds = append(m.binds, src+":"+target+":"+mode)
	return nil
}

// bindContext binds a context path: in place when read-only and no
// .dockerignore rule could hide part of it, else a copy of what the
// build may see.
func (r *buildRun) bindContext(ctx context.Context, c *Command, m *runMounts, dir, rel string, rw bool) (string, error) {
	info, err := r.ctx.root.Lstat(rel)
	if err != nil {
		return "", bindStatErr(c, rel, r.ctx.statErr(rel, err))
	}
	if !rw && r.ctx.ignore == nil {
		root, err := unix.Open(r.ctx.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return "", err
		}
		defer unix.Close(root)
		fd, err := unix.Openat2(root, rel, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			if isEscape(err) {
				return "", bindStatErr(c, rel, outsideErr(rel))
			}
			return "", bindStatErr(c, rel, err)
		}
		defer unix.Close(fd)
		return bindMountPath(m, dir, fd)
	}
	files, err := r.ctx.collect(rel, nil)
	if err != nil {
		return "", bindStatErr(c, rel, err)
	}
	copyDir := filepath.Join(dir, "copy")
	if err := os.Mkdir(copyDir, 0o755); err != nil {
		return "", err
	}
	rootFd, err := unix.Open(copyDir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(rootFd)
	w := &treeWriter{rootFd: rootFd, keepOwner: true}
	defer w.close()
	src := copySource{rel: rel, isDir: info.IsDir(), files: files}
	if err := r.copySources(ctx, w, r.ctx, []copySource{src}, &copyPlan{dest: "/", destDir: true}, false); err != nil {
		return "", err
	}
	if info.IsDir() {
		_ = os.Chmod(copyDir, info.Mode().Perm())
		return copyDir, nil
	}
	return filepath.Join(copyDir, path.Base(rel)), nil
}

// bindLayers binds a path of a stage's or an image's file system: its
// layers are mounted on a throw-away snapshot for the step.
func (r *buildRun) bindLayers(ctx context.Context, c *Command, m *runMounts, dir string, b *bindSource) (string, error) {
	var chains []string
	if b.fromSt != nil {
		for _, ch := range b.fromSt.chains() {
			chains = append(chains, ch.String())
		}
	} else {
		for _, ch := range chainIDs(b.fromImg.cfg.RootFS.DiffIDs) {
			chains = append(chains, ch.String())
		}
	}
	var top string
	if len(chains) > 0 {
		top = chains[len(chains)-1]
	}
	snaps := r.b.images.Snapshots()
	// Named after its staging directory, so that a daemon killed mid-RUN
	// has the next one remove it (clearRunMounts).
	key := "build-" + filepath.Base(dir)
	ms, err := snaps.Prepare(ctx, key, digestOf(top))
	if err != nil {
		return "", err
	}
	m.undo = append(m.undo, func() { _ = snaps.Remove(context.Background(), key) })
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o700); err != nil {
		return "", err
	}
	if err := mount.All(ctx, ms, root); err != nil {
		return "", err
	}
	m.undo = append(m.undo, func() { _ = mount.Unmount(context.Background(), root) })
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(rootFd)
	fd, err := unix.Openat2(rootFd, b.rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", errdefs.Invalid("dockerfile line %d: RUN --mount=type=bind,source=%s: no such file or directory in the mounted stage or image", c.Line, b.rel)
		}
		return "", err
	}
	defer unix.Close(fd)
	return bindMountPath(m, dir, fd)
}
