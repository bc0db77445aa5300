// Package snapshot keeps unpacked image layers on disk, each once, keyed by
// chain ID, and writable container layers on top of them. It returns what to
// mount as data (overlay lower, upper and work directories) and never mounts
// on its own.
//
// Layout under the root:
//
//	layers/<chain-id-hex>/fs      a layer's files (overlay whiteouts inside)
//	layers/<chain-id-hex>/parent  the parent chain ID, absent for a base layer
//	l/<short>                     short link to a layer's fs, to keep overlay's
//	                              option string within a page for many layers
//	active/<key>/{fs,work}        a writable layer: overlay upper and work dirs
//	tmp/                          staging; anything here after a crash is junk
package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/archive"
	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/idle"
	"github.com/gantry-dev/gantry/internal/mount"
)

// Snapshotter manages the layers under one root directory. Several
// processes may use one root: each stages in a directory of its own under
// tmp/, locked while it lives, and only unlocked ones are cleared.
type Snapshotter struct {
	root string

	tmpOnce sync.Once
	tmp     string   // this process's staging directory, made on first use
	tmpLock *os.File // held for the Snapshotter's life
	tmpErr  error

	background bool           // see DeleteInBackground
	deleting   sync.WaitGroup // deletions still running
}

// New opens the snapshot root, creating it, and clears the staging a dead
// process left.
func New(root string) (*Snapshotter, error) {
	for _, d := range []string{"layers", "l", "active", "tmp", "locks"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, err
		}
	}
	return &Snapshotter{root: root}, nil
}

// staging returns this process's staging directory, making it (and
// clearing what dead processes left) on first use: commands that only read
// never touch tmp/.
func (s *Snapshotter) staging() (string, error) {
	s.tmpOnce.Do(func() {
		dir := filepath.Join(s.root, "tmp")
		clearDeadStaging(dir)
		tmp, err := os.MkdirTemp(dir, "p-")
		if err != nil {
			s.tmpErr = err
			return
		}
		// The lock file gets its name only once it is locked: another
		// process that finds ".lock" can never take it in between.
		lock, err := os.OpenFile(filepath.Join(tmp, ".lock-new"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			os.RemoveAll(tmp)
			s.tmpErr = err
			return
		}
		if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			lock.Close()
			os.RemoveAll(tmp)
			s.tmpErr = err
			return
		}
		if err := os.Rename(filepath.Join(tmp, ".lock-new"), filepath.Join(tmp, ".lock")); err != nil {
			lock.Close()
			os.RemoveAll(tmp)
			s.tmpErr = err
			return
		}
		spreadChildren(tmp)
		s.tmp, s.tmpLock = tmp, lock
	})
	return s.tmp, s.tmpErr
}

// clearDeadStaging removes the staging directories no live process holds.
func clearDeadStaging(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		lock, err := os.Open(filepath.Join(p, ".lock"))
		if err != nil {
			// No lock yet: a process may be making it right now.
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Minute {
				_ = os.RemoveAll(p)
			}
			continue
		}
		if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			_ = os.RemoveAll(p)
		}
		lock.Close()
	}
}

// Close removes this process's staging directory.
func (s *Snapshotter) Close() error {
	s.deleting.Wait()
	if s.tmp == "" {
		return nil
	}
	err := os.RemoveAll(s.tmp)
	s.tmpLock.Close()
	return err
}

func (s *Snapshotter) layerDir(chainID digest.Digest) string {
	return filepath.Join(s.root, "layers", chainID.Encoded())
}

func shortName(chainID digest.Digest) string { return chainID.Encoded()[:16] }

// Exists tells whether the layer with this chain ID is unpacked.
func (s *Snapshotter) Exists(chainID digest.Digest) bool {
	_, err := os.Stat(filepath.Join(s.layerDir(chainID), "fs"))
	return err == nil
}

// Unpack makes the layer chainID, whose parent is parent ("" for a base
// layer), by calling apply on an empty staging directory; the layer appears
// whole or not at all. A layer already on disk is left as it is and apply is
// not called. Two callers unpacking the same layer wait for each other. The
// parent need not be there yet: each layer is a directory of its own, so a
// pull unpacks all of them at once; mounting checks the chain.
func (s *Snapshotter) Unpack(ctx context.Context, chainID, parent digest.Digest, apply func(dir string) error) (unpacked bool, err error) {
	if err := chainID.Validate(); err != nil {
		return false, errdefs.Invalid("chain ID %q: %v", chainID, err)
	}
	if s.Exists(chainID) {
		return false, nil
	}
	unlock, err := s.lock(ctx, chainID)
	if err != nil {
		return false, err
	}
	defer unlock()
	if s.Exists(chainID) {
		return false, nil
	}
	st, err := s.Stage(ctx)
	if err != nil {
		return false, err
	}
	defer st.Abort()
	if err := apply(st.Dir); err != nil {
		return false, err
	}
	return true, st.commit(ctx, chainID, parent)
}

// Staged is a layer being made whose chain ID is known only at the end
// (imports, commits).
type Staged struct {
	Dir  string // fill this
	s    *Snapshotter
	root string
}

// Stage returns an empty directory for a new layer.
func (s *Snapshotter) Stage(ctx context.Context) (*Staged, error) {
	tmp, err := s.staging()
	if err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(tmp, "stage-")
	if err != nil {
		return nil, err
	}
	fs := filepath.Join(stage, "fs")
	if err := os.Mkdir(fs, 0o755); err != nil {
		os.RemoveAll(stage)
		return nil, err
	}
	return &Staged{Dir: fs, s: s, root: stage}, nil
}

// Commit makes the staged directory the layer chainID. If that layer is
// already there, the staged copy is dropped.
func (st *Staged) Commit(ctx context.Context, chainID, parent digest.Digest) error {
	if err := chainID.Validate(); err != nil {
		return errdefs.Invalid("chain ID %q: %v", chainID, err)
	}
	unlock, err := st.s.lock(ctx, chainID)
	if err != nil {
		return err
	}
	defer unlock()
	defer st.Abort()
	if st.s.Exists(chainID) {
		return nil
	}
	return st.commit(ctx, chainID, parent)
}

// commit renames the staged layer into place; the caller holds the lock.
func (st *Staged) commit(ctx context.Context, chainID, parent digest.Digest) error {
	s := st.s
	if parent != "" {
		if err := os.WriteFile(filepath.Join(st.root, "parent"), []byte(parent), 0o600); err != nil {
			return err
		}
	}
	if err := archive.Sync(ctx, st.root); err != nil {
		return err
	}
	link := filepath.Join(s.root, "l", shortName(chainID))
	_ = os.Remove(link)
	if err := os.Symlink(filepath.Join("..", "layers", chainID.Encoded(), "fs"), link); err != nil {
		return err
	}
	if err := os.Rename(st.root, s.layerDir(chainID)); err != nil {
		_ = os.Remove(link)
		return err
	}
	return syncDir(filepath.Join(s.root, "layers"))
}

// Abort drops the staged directory (after Commit it does nothing).
func (st *Staged) Abort() { _ = os.RemoveAll(st.root) }

// lock takes an exclusive lock on one layer, across processes.
func (s *Snapshotter) lock(ctx context.Context, chainID digest.Digest) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.root, "locks", chainID.Encoded()), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- unix.Flock(int(f.Fd()), unix.LOCK_EX) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
			return nil, err
		}
	case <-ctx.Done():
		// The flock goroutine ends when the holder releases; closing
		// after it returns releases our lock in turn.
		go func() { <-done; f.Close() }()
		return nil, ctx.Err()
	}
	return func() { f.Close() }, nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Parent returns a layer's parent chain ID, "" for a base layer.
func (s *Snapshotter) Parent(chainID digest.Digest) (digest.Digest, error) {
	data, err := os.ReadFile(filepath.Join(s.layerDir(chainID), "parent"))
	if errors.Is(err, os.ErrNotExist) {
		if !s.Exists(chainID) {
			return "", errdefs.NotFound("layer %s is not unpacked", chainID)
		}
		return "", nil
	}
	return digest.Digest(strings.TrimSpace(string(data))), err
}

// lowerDirs lists the fs directories of chainID and its ancestors, top first,
// through their short links.
func (s *Snapshotter) lowerDirs(chainID digest.Digest) ([]string, error) {
	var dirs []string
	for id := chainID; id != ""; {
		if !s.Exists(id) {
			return nil, errdefs.NotFound("layer %s is not unpacked", id)
		}
		dirs = append(dirs, filepath.Join(s.root, "l", shortName(id)))
		parent, err := s.Parent(id)
		if err != nil {
			return nil, err
		}
		id = parent
	}
	return dirs, nil
}

// RemoveLayer deletes an unpacked layer. The caller makes sure nothing uses
// it: no child layer and no active snapshot.
func (s *Snapshotter) RemoveLayer(ctx context.Context, chainID digest.Digest) error {
	unlock, err := s.lock(ctx, chainID)
	if err != nil {
		return err
	}
	defer unlock()
	if !s.Exists(chainID) {
		return errdefs.NotFound("layer %s is not unpacked", chainID)
	}
	_ = os.Remove(filepath.Join(s.root, "l", shortName(chainID)))
	return s.discard(s.layerDir(chainID))
}

// Layers lists the chain IDs of the unpacked layers.
func (s *Snapshotter) Layers(ctx context.Context) ([]digest.Digest, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "layers"))
	if err != nil {
		return nil, err
	}
	out := make([]digest.Digest, 0, len(entries))
	for _, e := range entries {
		out = append(out, digest.NewDigestFromEncoded(digest.SHA256, e.Name()))
	}
	return out, nil
}

func (s *Snapshotter) activeDir(key string) (string, error) {
	if key == "" || strings.ContainsAny(key, "/\x00") || key == "." || key == ".." {
		return "", errdefs.Invalid("snapshot key %q: use a name without '/'", key)
	}
	return filepath.Join(s.root, "active", key), nil
}

// Prepare makes a writable snapshot named key on top of parent ("" for an
// empty one) and returns its mounts.
func (s *Snapshotter) Prepare(ctx context.Context, key string, parent digest.Digest) ([]mount.Mount, error) {
	dir, err := s.activeDir(key)
	if err != nil {
		return nil, err
	}
	if parent != "" && !s.Exists(parent) {
		return nil, errdefs.NotFound("layer %s is not unpacked", parent)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if os.IsExist(err) {
			return nil, errdefs.Conflict("snapshot %q already exists", key)
		}
		return nil, err
	}
	for _, d := range []string{"fs", "work"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if parent != "" {
		if err := os.WriteFile(filepath.Join(dir, "parent"), []byte(parent), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	return s.Mounts(ctx, key)
}

// Mounts returns what to mount for the writable snapshot key.
func (s *Snapshotter) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	dir, err := s.activeDir(key)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, errdefs.NotFound("snapshot %q does not exist", key)
	}
	upper := filepath.Join(dir, "fs")
	parent, _ := os.ReadFile(filepath.Join(dir, "parent"))
	if len(parent) == 0 {
		return []mount.Mount{{Type: "bind", Source: upper, Options: []string{"rbind", "rw"}}}, nil
	}
	lowers, err := s.lowerDirs(digest.Digest(parent))
	if err != nil {
		return nil, err
	}
	return []mount.Mount{{
		Type:   "overlay",
		Source: "overlay",
		Options: []string{
			"lowerdir=" + strings.Join(lowers, ":"),
			"upperdir=" + upper,
			"workdir=" + filepath.Join(dir, "work"),
			"index=off",
			// Renames and chmods must copy up whole: a diff of the upper
			// directory is then a complete layer.
			"redirect_dir=off",
			"metacopy=off",
		},
	}}, nil
}

// Remove deletes a writable snapshot. It must not be mounted.
func (s *Snapshotter) Remove(ctx context.Context, key string) error {
	dir, err := s.activeDir(key)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); err != nil {
		return errdefs.NotFound("snapshot %q does not exist", key)
	}
	return s.discard(dir)
}

// Diff writes the changes of a writable snapshot as a layer tar.
func (s *Snapshotter) Diff(ctx context.Context, key string, w io.Writer, opts archive.TarOptions) error {
	dir, err := s.activeDir(key)
	if err != nil {
		return err
	}
	return archive.Diff(ctx, filepath.Join(dir, "fs"), w, opts)
}

// LayerPath is the directory holding a layer's files, for reading them
// without a mount (single-layer images, exports).
func (s *Snapshotter) LayerPath(chainID digest.Digest) (string, error) {
	if !s.Exists(chainID) {
		return "", errdefs.NotFound("layer %s is not unpacked", chainID)
	}
	return filepath.Join(s.layerDir(chainID), "fs"), nil
}

// String is for error messages.
func (s *Snapshotter) String() string { return fmt.Sprintf("snapshots at %s", s.root) }

// discard removes a directory tree atomically as far as readers are
// concerned: it is renamed into staging first, then deleted; a crash in
// between leaves it to the next cleaning.
func (s *Snapshotter) discard(dir string) error {
	tmp, err := s.staging()
	if err != nil {
		return err
	}
	trash, err := os.MkdirTemp(tmp, "rm-")
	if err != nil {
		return err
	}
	if err := os.Rename(dir, filepath.Join(trash, "x")); err != nil {
		return err
	}
	if s.background && idle.CanWait(tmp) {
		// Gone for every reader already; the files can go at leisure,
		// in time the work somebody waits for leaves.
		idle.Go(&s.deleting, func() { _ = os.RemoveAll(trash) })
		return nil
	}
	return os.RemoveAll(trash)
}

// DeleteInBackground makes removals return once the snapshot is out of
// sight, its files deleted afterwards, for a daemon whose removals are on
// a user's critical path. Close waits for them.
func (s *Snapshotter) DeleteInBackground() { s.background = true }
