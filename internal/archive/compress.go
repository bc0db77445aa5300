package archive

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Compression of a layer stream.
type Compression int

// The compressions a layer can have.
const (
	Uncompressed Compression = iota
	Gzip
	Zstd
)

// String returns the name used in messages and flags.
func (c Compression) String() string {
	switch c {
	case Uncompressed:
		return "uncompressed"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", int(c))
}

// Magic numbers at the start of a stream.
var (
	magicGzip  = []byte{0x1f, 0x8b}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicBzip2 = []byte{'B', 'Z', 'h'}
)

// zstdMaxWindow bounds the memory a hostile zstd frame can make us allocate;
// zstd's own --long maximum for normal use is 128 MiB (window log 27).
const zstdMaxWindow = 1 << 27

// Decompress detects the compression from the first bytes of r and returns
// the uncompressed stream. gzip is decoded by pgzip, which decodes ahead in
// its own goroutine so decompression overlaps extraction; zstd by
// klauspost/compress/zstd. Close the result to stop those goroutines; it does
// not close r. The decoders read r to its end (multi-member gzip, all zstd
// frames), so a digest computed over r sees every byte.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	// Peek fails short at EOF; what we got is still enough to decide.
	head, err := br.Peek(512)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, Uncompressed, fmt.Errorf("reading layer header: %w", err)
	}
	switch {
	case bytes.HasPrefix(head, magicGzip):
		src := &sourceReader{r: br}
		zr, err := pgzip.NewReader(src)
		if err != nil {
			return nil, Gzip, src.classify(Gzip, err)
		}
		return &decodeReader{ReadCloser: zr, src: src, c: Gzip}, Gzip, nil
	case bytes.HasPrefix(head, magicZstd) || isZstdSkippable(head):
		src := &sourceReader{r: br}
		zr, err := zstd.NewReader(src, zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, Zstd, src.classify(Zstd, err)
		}
		return &decodeReader{ReadCloser: zr.IOReadCloser(), src: src, c: Zstd}, Zstd, nil
	}
	if !looksLikeTar(head) {
		// Name the format rather than fail later with a confusing tar error.
		if bytes.HasPrefix(head, magicXz) {
			return nil, Uncompressed, errdefs.Invalid("layer is xz-compressed, which is not supported (gzip, zstd or uncompressed)")
		}
		if bytes.HasPrefix(head, magicBzip2) {
			return nil, Uncompressed, errdefs.Invalid("layer is bzip2-compressed, which is not supported (gzip, zstd or uncompressed)")
		}
	}
	return io.NopCloser(br), Uncompressed, nil
}

// sourceReader remembers the compressed stream's own error, so that a
// failure to read it (network, store) keeps its class and only bad data is
// called invalid.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

func (s *sourceReader) classify(c Compression, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if s.err != nil && errors.Is(err, s.err) {
		return err
	}
	return errdefs.Invalid("layer is not valid %s: %w", c, err)
}

// decodeReader is a decompressor whose data errors are errdefs.Invalid.
type decodeReader struct {
	io.ReadCloser
	src *sourceReader
	c   Compression
}

func (d *decodeReader) Read(p []byte) (int, error) {
	n, err := d.ReadCloser.Read(p)
	return n, d.src.classify(d.c, err)
}

// isZstdSkippable reports a zstd skippable frame (magic 0x184D2A5?), which
// may precede the data frames.
func isZstdSkippable(head []byte) bool {
	return len(head) >= 4 && head[0]&0xf0 == 0x50 && head[1] == 0x2a && head[2] == 0x4d && head[3] == 0x18
}

// looksLikeTar reports a ustar/GNU magic in the first header block.
func looksLikeTar(head []byte) bool {
	return len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar"))
}

// DefaultLevel asks CompressLevel for the algorithm's default level.
const DefaultLevel = 0

// Compress returns a writer compressing to w at the algorithm's default
// level (gzip level 6, zstd "default", about level 3). Close it to flush; it
// does not close w. The output is a function of the input alone, so the same
// layer tar always gives the same blob digest.
func Compress(w io.Writer, c Compression) (io.WriteCloser, error) {
	return CompressLevel(w, c, DefaultLevel)
}

// CompressLevel is Compress with a level in the algorithm's own scale: gzip
// 1 (fastest) to 9 (best), zstd 1 to 22. DefaultLevel (0) means the
// algorithm's default; to store without compression use Uncompressed, not
// level 0. gzip is written by pgzip in 1 MiB blocks compressed in parallel.
func CompressLevel(w io.Writer, c Compression, level int) (io.WriteCloser, error) {
	switch c {
	case Uncompressed:
		return nopWriteCloser{w}, nil
	case Gzip:
		if level == DefaultLevel {
			level = pgzip.DefaultCompression
		}
		if level != pgzip.DefaultCompression && (level < pgzip.BestSpeed || level > pgzip.BestCompression) {
			return nil, errdefs.Invalid("gzip level %d out of range 1-9", level)
		}
		zw, err := pgzip.NewWriterLevel(w, level)
		if err != nil {
			return nil, errdefs.Invalid("gzip level %d: %w", level, err)
		}
		// The block size is fixed so that the output does not depend on
		// the machine; only the number of blocks in flight follows the CPUs.
		if err := zw.SetConcurrency(1<<20, max(2, runtime.GOMAXPROCS(0))); err != nil {
			return nil, err
		}
		return zw, nil
	case Zstd:
		el := zstd.SpeedDefault
		if level != DefaultLevel {
			if level < 1 || level > 22 {
				return nil, errdefs.Invalid("zstd level %d out of range 1-22", level)
			}
			el = zstd.EncoderLevelFromZstd(level)
		}
		zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(el))
		if err != nil {
			return nil, fmt.Errorf("zstd encoder: %w", err)
		}
		return zw, nil
	}
	return nil, errdefs.Invalid("unknown compression %s", c)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// Sync flushes everything written to the filesystem holding dir, once for a
// whole layer: Apply does not fsync file by file because that would cost
// more than the unpack itself.
func Sync(ctx context.Context, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return wrapPathErr("open", dir, err)
	}
	defer unix.Close(fd)
	// syncfs cannot be interrupted; ctx only stops us from starting it.
	if err := unix.Syncfs(fd); err != nil {
		return wrapPathErr("syncfs", dir, err)
	}
	return nil
}
