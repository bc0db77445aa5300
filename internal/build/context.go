package build

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// buildContext is the files a build may read: a directory, read only
// through an os.Root, so that no name ("../x") and no symlink in it can
// reach outside; and the .dockerignore rules.
type buildContext struct {
	root   *os.Root
	dir    string
	ignore *patternmatcher.PatternMatcher
	hashes *hashCache
}

func openContext(dir string, ignoreData []byte, hashes *hashCache) (*buildContext, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	c := &buildContext{root: root, dir: dir, hashes: hashes}
	if len(ignoreData) > 0 {
		patterns, err := ignorefile.ReadAll(strings.NewReader(string(ignoreData)))
		if err != nil {
			root.Close()
			return nil, errdefs.Invalid("error reading .dockerignore: %v", err)
		}
		if c.ignore, err = patternmatcher.New(patterns); err != nil {
			root.Close()
			return nil, errdefs.Invalid("error reading .dockerignore: %v", err)
		}
	}
	return c, nil
}

func (c *buildContext) Close() error { return c.root.Close() }

// ignored says whether .dockerignore excludes rel (slash separated,
// relative to the context).
func (c *buildContext) ignored(rel string, parents []patternmatcher.MatchInfo) (bool, patternmatcher.MatchInfo) {
	if c.ignore == nil {
		return false, patternmatcher.MatchInfo{}
	}
	if parents == nil {
		m, err := c.ignore.MatchesOrParentMatches(rel)
		return err == nil && m, patternmatcher.MatchInfo{}
	}
	m, info, err := c.ignore.MatchesUsingParentResults(rel, parents[len(parents)-1])
	if err != nil {
		return false, info
	}
	return m, info
}

// ctxFile is one file selected from the context.
type ctxFile struct {
	rel    string // path in the context, slash separated
	dst    string // path under the destination, slash separated ("" for the source itself)
	info   fs.FileInfo
	link   string // symlink target
	digest string // of path, mode, owner, link target and content
}

// outsideErr says a source names something outside the context.
func outsideErr(src string) error {
	return errdefs.Invalid("forbidden path outside the build context: %s", src)
}

// cleanSource makes a COPY source relative to the context root; a path
// that climbs out of it is refused.
func cleanSource(src string) (string, error) {
	p := path.Clean("/" + filepath.ToSlash(src))
	if strings.HasPrefix(path.Clean(filepath.ToSlash(src)), "..") {
		return "", outsideErr(src)
	}
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		p = "."
	}
	return p, nil
}

// resolveSources expands one COPY source (wildcards allowed) into the
// matching context paths. A source whose name goes through a symlink
// leading out of the context is refused.
func (c *buildContext) resolveSources(src string) ([]string, error) {
	clean, err := cleanSource(src)
	if err != nil {
		return nil, err
	}
	if !hasWildcard(clean) {
		if _, err := c.root.Lstat(clean); err != nil {
			return nil, c.statErr(src, err)
		}
		if ok, _ := c.ignored(clean, nil); ok && clean != "." {
			return nil, errdefs.Invalid("failed to compute cache key: %q not found: excluded by .dockerignore", src)
		}
		return []string{clean}, nil
	}
	// Match component by component so that "dir/*.txt" needs no walk of
	// the whole context.
	parts := strings.Split(clean, "/")
	matches := []string{"."}
	for _, part := range parts {
		var next []string
		for _, m := range matches {
			if !hasWildcard(part) {
				p := path.Join(m, part)
				if _, err := c.root.Lstat(p); err == nil {
					next = append(next, p)
				}
				continue
			}
			ents, err := c.readDir(m)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if ok, _ := path.Match(part, e.Name()); ok {
					next = append(next, path.Join(m, e.Name()))
				}
			}
		}
		matches = next
	}
	var out []string
	for _, m := range matches {
		if ok, _ := c.ignored(m, nil); !ok {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, errdefs.Invalid("COPY failed: no source files were specified: %s matches nothing in the build context", src)
	}
	sort.Strings(out)
	return out, nil
}

func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?[") }

func (c *buildContext) statErr(src string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes") {
		return outsideErr(src)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return errdefs.Invalid("COPY failed: file not found in build context or excluded by .dockerignore: stat %s: file does not exist", src)
	}
	if strings.Contains(err.Error(), "escapes") {
		return outsideErr(src)
	}
	return err
}

func (c *buildContext) readDir(rel string) ([]fs.DirEntry, error) {
	f, err := c.root.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	return ents, err
}

// collect lists the files under the context path rel (itself included),
// minus the ignored ones, each with its checksum; dst names them under the
// destination: a directory's contents go into it, as Docker copies them.
func (c *buildContext) collect(rel string, out []ctxFile) ([]ctxFile, error) {
	info, err := c.root.Lstat(rel)
	if err != nil {
		return nil, c.statErr(rel, err)
	}
	if !info.IsDir() {
		f, err := c.file(rel, path.Base(rel), info)
		if err != nil {
			return nil, err
		}
		return append(out, f), nil
	}
	var walk func(dir, dst string, parents []patternmatcher.MatchInfo) error
	_, top := c.ignored(rel, []patternmatcher.MatchInfo{{}})
	walk = func(dir, dst string, parents []patternmatcher.MatchInfo) error {
		ents, err := c.readDir(dir)
		if err != nil {
			return c.statErr(dir, err)
		}
		for _, e := range ents {
			p := path.Join(dir, e.Name())
			ign, mi := c.ignored(p, parents)
			info, err := e.Info()
			if err != nil {
				return err
			}
			d := path.Join(dst, e.Name())
			if info.IsDir() {
				// An ignored directory may hold re-included files ("!x").
				if ign && (c.ignore == nil || !c.ignore.Exclusions()) {
					continue
				}
				if !ign {
					f, err := c.file(p, d, info)
					if err != nil {
						return err
					}
					out = append(out, f)
				}
				if err := walk(p, d, append(parents, mi)); err != nil {
					return err
				}
				continue
			}
			if ign {
				continue
			}
			f, err := c.file(p, d, info)
			if err != nil {
				return err
			}
			out = append(out, f)
		}
		return nil
	}
	if err := walk(rel, "", []patternmatcher.MatchInfo{top}); err != nil {
		return nil, err
	}
	return out, nil
}

// file describes one context entry and computes its checksum: path,
// mode, owner, link target and content, never the time. Contents are
// hashed once per inode, size, mtime and ctime.
func (c *buildContext) file(rel, dst string, info fs.FileInfo) (ctxFile, error) {
	f := ctxFile{rel: rel, dst: dst, info: info}
	h := sha256.New()
	var uid, gid uint32
	st, _ := info.Sys().(*syscall.Stat_t)
	if st != nil {
		uid, gid = st.Uid, st.Gid
	}
	fmt.Fprintf(h, "%s\x00%o\x00%d:%d\x00", dst, info.Mode(), uid, gid)
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		link, err := c.root.Readlink(rel)
		if err != nil {
			return f, err
		}
		f.link = link
		fmt.Fprintf(h, "link:%s", link)
	case info.Mode().IsRegular():
		sum, err := c.contentHash(rel, info, st)
		if err != nil {
			return f, err
		}
		h.Write(sum[:])
	}
	f.digest = hex.EncodeToString(h.Sum(nil))
	return f, nil
}

func (c *buildContext) contentHash(rel string, info fs.FileInfo, st *syscall.Stat_t) ([32]byte, error) {
	var key statKey
	if st != nil {
		key = statKey{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
		if sum, ok := c.hashes.get(key); ok {
			return sum, nil
		}
	}
	fh, err := c.root.Open(rel)
	if err != nil {
		return [32]byte{}, c.statErr(rel, err)
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return [32]byte{}, err
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	if st != nil {
		c.hashes.put(key, sum)
	}
	return sum, nil
}

// statKey identifies a file's content as long as it is not changed: a
// write changes mtime and ctime, a replacement the inode.
type statKey struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64
}

// hashCache remembers file content hashes by statKey, for the life of the
// daemon, so that a warm rebuild of a big context hashes nothing.
type hashCache struct {
	mu sync.Mutex
	m  map[statKey][32]byte
}

const maxHashCache = 1 << 20

func (h *hashCache) get(k statKey) ([32]byte, bool) {
	if h == nil {
		return [32]byte{}, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.m[k]
	return v, ok
}

func (h *hashCache) put(k statKey, v [32]byte) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) > maxHashCache {
		h.m = map[statKey][32]byte{}
	}
	h.m[k] = v
}
