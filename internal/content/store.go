// Package content stores blobs by digest. A blob enters only through an
// ingest that verifies its digest and size, and becomes visible by one atomic
// rename after an fsync, so a reader never sees a partial or unverified blob
// and a crash at any point leaves a store the next Open can use.
//
// Layout under the root:
//
//	blobs/<algorithm>/<encoded digest>   committed blobs, read-only
//	ingest/<sha256 of key>/lock          flock held by the live writer
//	ingest/<sha256 of key>/meta          key, expected digest and size (JSON)
//	ingest/<sha256 of key>/data          the bytes written so far
package content

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// MaxReadAll bounds ReadAll: it is meant for configs and manifests, and a
// layer read into memory by mistake should fail rather than exhaust it.
const MaxReadAll = 64 << 20

// tmpPrefix marks files written for an atomic rename; any such file found
// later was left by a crash and is removed by Open.
const tmpPrefix = ".tmp-"

// Store is a content-addressed blob store rooted at one directory. It is safe
// for concurrent use, also by several processes sharing the root: writers
// coordinate through per-ingest file locks, and blobs never change once
// committed.
type Store struct {
	root string
}

// Info describes a blob. Ingest is set only in GC results, for a removed
// partial ingest (then Digest is its expected digest, or "" if unknown, and
// Size the bytes it held).
type Info struct {
	Digest digest.Digest
	Size   int64
	Ingest string
}

// Open opens the store at root, creating its layout if needed, and removes
// what a crash can leave behind: temp files and ingests that cannot be resumed
// (no data, or unreadable metadata). Resumable ingests are kept.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("content store %s: %w", root, err)
	}
	s := &Store{root: abs}
	for _, dir := range []string{abs, s.algDir(digest.SHA256), s.ingestRoot()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("content store %s: %w", abs, err)
		}
	}
	if err := s.cleanIngests(); err != nil {
		return nil, fmt.Errorf("content store %s: %w", abs, err)
	}
	return s, nil
}

// Root returns the store's directory.
func (s *Store) Root() string { return s.root }

func (s *Store) algDir(alg digest.Algorithm) string {
	return filepath.Join(s.root, "blobs", string(alg))
}

func (s *Store) ingestRoot() string { return filepath.Join(s.root, "ingest") }

// blobPath returns where d lives, after checking that d is well formed and of
// an algorithm the store can verify.
func (s *Store) blobPath(d digest.Digest) (string, error) {
	if err := checkDigest(d); err != nil {
		return "", err
	}
	return filepath.Join(s.algDir(d.Algorithm()), d.Encoded()), nil
}

// newHash returns a hash for the algorithms the store supports. It does not
// rely on go-digest's registry so it cannot depend on import side effects.
func newHash(alg digest.Algorithm) hash.Hash {
	switch alg {
	case digest.SHA256:
		return sha256.New()
	case digest.SHA512:
		return sha512.New()
	}
	return nil
}

func checkDigest(d digest.Digest) error {
	if d == "" {
		return errdefs.Invalid("empty digest")
	}
	alg := d.Algorithm()
	if alg != digest.SHA256 && alg != digest.SHA512 {
		return errdefs.Invalid("digest %s: unsupported algorithm (want sha256 or sha512)", d)
	}
	if err := d.Validate(); err != nil {
		return errdefs.Invalid("digest %s: %v", d, err)
	}
	return nil
}

// Info returns the digest and size of a committed blob.
func (s *Store) Info(ctx context.Context, d digest.Digest) (Info, error) {
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	p, err := s.blobPath(d)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return Info{}, blobError(d, err)
	}
	return Info{Digest: d, Size: st.Size()}, nil
}

// Open opens a committed blob for reading. The caller closes the file.
func (s *Store) Open(ctx context.Context, d digest.Digest) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := s.blobPath(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, blobError(d, err)
	}
	return f, nil
}

// ReadAll returns a small blob's content (at most MaxReadAll bytes), verified
// against its digest: configs and manifests are parsed from it, so corruption
// must not be read as data.
func (s *Store) ReadAll(ctx context.Context, d digest.Digest) ([]byte, error) {
	f, err := s.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, blobError(d, err)
	}
	if st.Size() > MaxReadAll {
		return nil, errdefs.Invalid("blob %s: %d bytes is too large to read into memory (limit %d)", d, st.Size(), MaxReadAll)
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("blob %s: read: %w", d, err)
	}
	h := newHash(d.Algorithm())
	h.Write(b)
	if got := digest.NewDigest(d.Algorithm(), h); got != d {
		return nil, errdefs.Invalid("blob %s is corrupt: content hashes to %s (run a content check to remove it)", d, got)
	}
	return b, nil
}

// Delete removes a committed blob. Readers holding it open keep their data.
func (s *Store) Delete(ctx context.Context, d digest.Digest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.blobPath(d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return blobError(d, err)
	}
	// Without this a crash could bring the blob back; harmless, but a
	// delete that the caller saw succeed should stay done.
	return syncDir(filepath.Dir(p))
}

// Walk calls fn for every committed blob, in digest order per algorithm.
// Files that are not blobs are skipped (Check reports them). An error from fn
// stops the walk and is returned.
func (s *Store) Walk(ctx context.Context, fn func(Info) error) error {
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		entries, err := os.ReadDir(s.algDir(alg))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("content walk: %w", err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			d, ok := blobName(alg, e)
			if !ok {
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted since the listing
			}
			if err != nil {
				return fmt.Errorf("content walk: %w", err)
			}
			if err := fn(Info{Digest: d, Size: fi.Size()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// blobName returns the digest a directory entry stands for, if it is a
// regular file with a well-formed name.
func blobName(alg digest.Algorithm, e fs.DirEntry) (digest.Digest, bool) {
	if !e.Type().IsRegular() || alg.Validate(e.Name()) != nil {
		return "", false
	}
	// Validate accepts upper case hex; the digests we write never have it.
	if strings.ToLower(e.Name()) != e.Name() {
		return "", false
	}
	return digest.NewDigestFromEncoded(alg, e.Name()), true
}

func blobError(d digest.Digest, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errdefs.NotFound("blob %s not found", d)
	}
	return fmt.Errorf("blob %s: %w", d, err)
}

// syncDir makes the entries of dir (creations, renames, removals) durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
