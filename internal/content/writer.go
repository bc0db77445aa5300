package content

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Writer is one ingest in progress. It holds the ingest's lock until Commit,
// Close or Discard. It is not safe for concurrent use.
type Writer struct {
	s        *Store
	key      string
	dir      string
	lock     *os.File
	f        *os.File
	fw       *fileWriter // nil once the writer is finished
	alg      digest.Algorithm
	h        hash.Hash
	offset   int64
	expected digest.Digest
	size     int64
	err      error // first write error; the writer is then only good for Close or Discard
}

// Writer starts an ingest named key, or resumes the partial one left under
// that key by an earlier Close or a dead process: Offset then reports the
// bytes already there, whose hash has been recomputed. expected ("" when
// unknown) and size (negative when unknown) are checked by Commit. A partial
// ingest known to be of other content (another expected digest or size, or
// longer than size) is restarted from zero. A writer already holding key
// makes this fail with errdefs.ErrUnavailable.
func (s *Store) Writer(ctx context.Context, key string, expected digest.Digest, size int64) (*Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if key == "" {
		return nil, errdefs.Invalid("ingest: empty key")
	}
	alg := digest.Canonical
	if expected != "" {
		if err := checkDigest(expected); err != nil {
			return nil, err
		}
		alg = expected.Algorithm()
	}
	if size < 0 {
		size = -1
	}
	dir := s.ingestDir(key)
	lock, err := lockIngest(dir)
	if errors.Is(err, errBusy) {
		return nil, errdefs.Unavailable("ingest %s is in progress", key)
	}
	if err != nil {
		return nil, s.ingestError(key, err)
	}
	w := &Writer{s: s, key: key, dir: dir, lock: lock, alg: alg, h: newHash(alg), expected: expected, size: size}
	if err := w.open(ctx); err != nil {
		w.f.Close() // nil-safe: *os.File.Close reports ErrInvalid
		// Nothing worth resuming: leave no trace (e.g. a disk too full
		// for even the meta file).
		if st, serr := os.Stat(filepath.Join(dir, "data")); serr != nil || st.Size() == 0 {
			os.RemoveAll(dir)
		}
		lock.Close()
		return nil, s.ingestError(key, err)
	}
	return w, nil
}

// ingestError names the ingest and, for a full disk, says so and classes
// the error as unavailable.
func (s *Store) ingestError(key string, err error) error {
	if errno := syscall.Errno(0); errors.As(err, &errno) && (errno == syscall.ENOSPC || errno == syscall.EDQUOT) {
		// The file's path says nothing the user can act on; the store's does.
		return errdefs.Unavailable("ingest %s: disk full in %s: %w", key, s.root, errno)
	}
	return fmt.Errorf("ingest %s: %w", key, err)
}

// open opens the data file and brings the writer up to date with what it
// already holds.
func (w *Writer) open(ctx context.Context) error {
	removeTemps(w.dir)
	old, metaErr := readMeta(w.dir)
	restart := metaErr != nil || old.Key != w.key ||
		(w.expected != "" && old.Expected != "" && old.Expected != w.expected) ||
		(w.size >= 0 && old.Size >= 0 && old.Size != w.size)
	m := ingestMeta{Key: w.key, Expected: w.expected, Size: w.size}
	if !restart {
		// Keep what the first writer knew if this one knows less.
		if m.Expected == "" {
			m.Expected = old.Expected
		}
		if m.Size < 0 {
			m.Size = old.Size
		}
	}
	w.expected, w.size = m.Expected, m.Size
	if w.expected != "" && w.expected.Algorithm() != w.alg {
		w.alg, w.h = w.expected.Algorithm(), newHash(w.expected.Algorithm())
	}
	if restart || m != old {
		if err := writeMeta(w.dir, m); err != nil {
			return err
		}
	}
	flags := os.O_RDWR | os.O_CREATE
	if restart {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(filepath.Join(w.dir, "data"), flags, 0o600)
	if err != nil {
		return err
	}
	w.f = f
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if w.size >= 0 && st.Size() > w.size {
		if err := f.Truncate(0); err != nil {
			return err
		}
		st, _ = f.Stat()
	}
	// Mark the ingest as touched so GC does not take it for abandoned.
	now := time.Now()
	os.Chtimes(f.Name(), now, now)
	if err := w.rehash(ctx, st.Size()); err != nil {
		return err
	}
	// One byte more than what is left, so that the last byte does not
	// fill the buffer and make a second one.
	bufLen := bufSize
	if rest := w.size - w.offset; w.size >= 0 && rest < bufSize {
		bufLen = int(max(rest+1, 4096))
	}
	w.fw = newFileWriter(f, w.offset, bufLen)
	return nil
}

// rehash makes the hash and offset cover the first n bytes of the data file
// and positions the file after them.
func (w *Writer) rehash(ctx context.Context, n int64) error {
	w.h.Reset()
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if n == 0 {
		w.offset = 0
		return nil
	}
	got, err := io.CopyBuffer(w.h, &ctxReader{ctx: ctx, r: io.LimitReader(w.f, n)}, make([]byte, bufSize))
	if err != nil {
		return fmt.Errorf("rehash: %w", err)
	}
	if got != n {
		return fmt.Errorf("rehash: read %d of %d bytes", got, n)
	}
	w.offset = n
	return nil
}

// Write adds p to the ingest. After an error the writer keeps it and is only
// good for Close (keep what reached the disk) or Discard.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.fw == nil {
		return 0, fmt.Errorf("ingest %s: %w", w.key, os.ErrClosed)
	}
	// A failed disk write shows here, on the next call after it happened.
	n, err := w.fw.Write(p)
	if err != nil {
		w.err = w.writeError(err)
		return n, w.err
	}
	w.h.Write(p)
	w.offset += int64(n)
	return n, nil
}

// ReadFrom reads r to its end straight into the write buffer, which spares
// io.Copy's copy through a buffer of its own. A read error is returned as is;
// the bytes before it were taken.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.fw == nil {
		return 0, fmt.Errorf("ingest %s: %w", w.key, os.ErrClosed)
	}
	var total int64
	for {
		p, err := w.fw.space()
		if err != nil {
			w.err = w.writeError(err)
			return total, w.err
		}
		n, rerr := r.Read(p)
		if n > 0 {
			w.h.Write(p[:n])
			w.fw.grow(n)
			w.offset += int64(n)
			total += int64(n)
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

func (w *Writer) writeError(err error) error { return w.s.ingestError(w.key, err) }

// Transient says the ingest is kept only to resume an interrupted transfer
// and is discarded, not committed, once its reader is done with it (a
// pulled layer, whose unpacked files are what stays): its data is left to
// the page cache rather than pushed to the disk as it arrives, so a pull
// does not write a layer's compressed bytes to disk only to delete them.
// A crash may then lose part of it; a resume re-hashes what is there and
// fetches the rest. Call it before the first write.
func (w *Writer) Transient() {
	if w.fw != nil {
		w.fw.noWriteback = true
	}
}

// Offset returns the number of bytes written so far, including those found
// on resume.
func (w *Writer) Offset() int64 { return w.offset }

// Digest returns the digest of the bytes written so far.
func (w *Writer) Digest() digest.Digest { return digest.NewDigest(w.alg, w.h) }

// Truncate drops everything written so far, to restart an ingest whose
// partial data cannot be used (a source that cannot resume).
func (w *Writer) Truncate() error {
	if w.err != nil {
		return w.err
	}
	if w.fw == nil {
		return fmt.Errorf("ingest %s: %w", w.key, os.ErrClosed)
	}
	if err := w.fw.Flush(); err != nil {
		w.err = w.writeError(err)
		return w.err
	}
	if err := w.f.Truncate(0); err != nil {
		// Hash and file would be out of step: fail like a write error.
		w.err = w.writeError(err)
		return w.err
	}
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		w.err = w.writeError(err)
		return w.err
	}
	w.h.Reset()
	w.offset = 0
	// The background writer is idle after Flush; it continues from here.
	w.fw.pos, w.fw.kicked = 0, 0
	return nil
}

// PartialReader returns a reader of the bytes written so far (Offset of
// them), e.g. to replay what an earlier attempt received before the rest
// arrives. It reads through a descriptor of its own: writing may go on, and
// the reader stays valid until closed, even after Commit or Discard.
func (w *Writer) PartialReader() (io.ReadCloser, error) {
	if w.err != nil {
		return nil, w.err
	}
	if w.fw == nil {
		return nil, fmt.Errorf("ingest %s: %w", w.key, os.ErrClosed)
	}
	if err := w.fw.Flush(); err != nil {
		w.err = w.writeError(err)
		return nil, w.err
	}
	f, err := os.Open(w.f.Name())
	if err != nil {
		return nil, w.writeError(err)
	}
	return &partialReader{SectionReader: io.NewSectionReader(f, 0, w.offset), f: f}, nil
}

type partialReader struct {
	*io.SectionReader
	f *os.File
}

func (p *partialReader) Close() error { return p.f.Close() }

// Commit verifies the ingest and makes it a blob: size (when known), digest
// (when expected is known; otherwise the computed one names the blob), fsync,
// rename into blobs/, fsync of the directory. A blob that already exists is
// not an error. On a mismatch the partial data is removed and the error is
// errdefs.ErrInvalid. After success or a mismatch the writer is finished;
// after another error (a full disk) Discard or Close it.
func (w *Writer) Commit(ctx context.Context) (digest.Digest, error) {
	if w.fw == nil {
		return "", fmt.Errorf("ingest %s: %w", w.key, os.ErrClosed)
	}
	if w.err != nil {
		return "", w.err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := w.fw.Flush(); err != nil {
		w.err = w.writeError(err)
		return "", w.err
	}
	name := "ingest " + w.key
	if w.expected != "" {
		name = "blob " + w.expected.String()
	}
	if w.size >= 0 && w.offset != w.size {
		w.Discard()
		return "", errdefs.Invalid("%s: size mismatch: expected %d bytes, got %d", name, w.size, w.offset)
	}
	got := w.Digest()
	if w.expected != "" && got != w.expected {
		w.Discard()
		return "", errdefs.Invalid("%s: digest mismatch: got %s", name, got)
	}
	target, err := w.s.blobPath(got)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(target); err == nil {
		return got, w.Discard()
	}
	if err := w.commitFile(target); err != nil {
		return "", err
	}
	// The blob is in place; the ingest is just leftovers now, and Open
	// removes them should this fail or a crash come first.
	os.RemoveAll(w.dir)
	w.release()
	return got, nil
}

func (w *Writer) commitFile(target string) error {
	fail := func(err error) error { return w.writeError(fmt.Errorf("commit: %w", err)) }
	// Blobs never change; the mode says so to anyone looking.
	if err := w.f.Chmod(0o444); err != nil {
		return fail(err)
	}
	if err := w.f.Sync(); err != nil {
		return fail(err)
	}
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o700); err != nil { // sha512 is created on demand
		return fail(err)
	}
	if err := os.Rename(w.f.Name(), target); err != nil {
		return fail(err)
	}
	if err := syncDir(dir); err != nil {
		return fail(err)
	}
	return nil
}

// Close stops the ingest and keeps what was written for a later resume under
// the same key. It returns the error of writing out the buffer, if any; what
// reached the disk is still a valid prefix.
func (w *Writer) Close() error {
	if w.fw == nil {
		return nil
	}
	var err error
	if w.err == nil {
		if ferr := w.fw.Flush(); ferr != nil {
			err = w.writeError(ferr)
		}
	}
	w.release()
	return err
}

// Discard stops the ingest and removes its data.
func (w *Writer) Discard() error {
	if w.fw == nil {
		return nil
	}
	w.fw.Stop()
	w.f.Close()
	err := os.RemoveAll(w.dir)
	w.release()
	if err != nil {
		return fmt.Errorf("ingest %s: discard: %w", w.key, err)
	}
	return nil
}

// release stops the background writer and closes the files; closing the
// lock file drops the flock.
func (w *Writer) release() {
	w.fw.Stop()
	w.f.Close()
	w.lock.Close()
	w.fw = nil
}

// Ingest writes everything r yields as one blob and commits it: the usual way
// in when the source cannot resume. When expected is given and already
// stored, it returns at once without reading r. A partial ingest found under
// key is restarted, since r starts at the beginning. On any error the ingest
// is discarded.
func (s *Store) Ingest(ctx context.Context, key string, expected digest.Digest, size int64, r io.Reader) (digest.Digest, error) {
	if expected != "" {
		if info, err := s.Info(ctx, expected); err == nil && (size < 0 || info.Size == size) {
			return expected, nil
		}
	}
	w, err := s.Writer(ctx, key, expected, size)
	if err != nil {
		return "", err
	}
	defer w.Discard() // a no-op after Commit
	if w.Offset() > 0 {
		if err := w.Truncate(); err != nil {
			return "", err
		}
	}
	if _, err := io.Copy(w, &ctxReader{ctx: ctx, r: r}); err != nil {
		if w.err != nil {
			return "", w.err
		}
		return "", fmt.Errorf("ingest %s: %w", key, err)
	}
	return w.Commit(ctx)
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
