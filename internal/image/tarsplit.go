package image

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/archive"
)

// A pulled layer keeps its tar's headers and padding (tar-split metadata,
// as Docker keeps them) beside its files, so that a push or a save can give
// back the original tar byte for byte: the diff IDs in the image's config
// stay true and the image keeps its ID wherever it goes.

const tarSplitFile = "tar-split.json.gz"

// tarSplitPath is where the metadata of the layer unpacked into dir lives:
// beside dir, in the layer's own directory.
func tarSplitPath(dir string) string { return filepath.Join(filepath.Dir(dir), tarSplitFile) }

// recordTarSplit returns a reader giving r's bytes unchanged while their
// tar structure is written to the layer's metadata file. finish must be
// called once reading stops, at the end or on an error: it stops the
// recording goroutine before the file is closed.
func recordTarSplit(dir string, r io.Reader) (io.Reader, func() error, error) {
	f, err := os.Create(tarSplitPath(dir))
	if err != nil {
		return nil, nil, err
	}
	// The fastest level: this runs on every pull, beside decompression
	// and extraction, and the file is small whatever the level (the
	// standard library's default level cost a tenth of a pull's CPU).
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	tr, done, err := asm.NewInputTarStreamWithDone(r, storage.NewJSONPacker(zw), &sizePutter{})
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	finish := func() error {
		// Whatever follows the tar's end marker belongs to the stream too;
		// on an error, closing makes the goroutine give up.
		_, _ = io.Copy(io.Discard, tr)
		tr.Close()
		err := <-done
		if zerr := zw.Close(); err == nil {
			err = zerr
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	return tr, finish, nil
}

// writeOriginalTar reassembles the layer's original tar from its files and
// tar-split metadata into w and returns the tar's digest. errNoTarSplit
// says the layer has none (made here, not pulled).
func writeOriginalTar(ctx context.Context, layerDir string, w io.Writer) (digest.Digest, error) {
	meta, err := os.Open(tarSplitPath(layerDir))
	if errors.Is(err, os.ErrNotExist) {
		return "", errNoTarSplit
	}
	if err != nil {
		return "", err
	}
	defer meta.Close()
	zr, err := gzip.NewReader(meta)
	if err != nil {
		return "", err
	}
	root, err := os.Open(layerDir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	h := sha256.New()
	if err := assemble(root, storage.NewJSONUnpacker(zr), io.MultiWriter(w, h)); err != nil {
		return "", err
	}
	return digest.NewDigest(digest.SHA256, h), ctx.Err()
}

var errNoTarSplit = errors.New("no tar-split metadata")

// sizePutter records a file of the tar by its size only. tar-split's own
// putter also takes a CRC-64 of every file, a twentieth of a pull's CPU;
// the tar rebuilt from the files is checked against the layer's diff ID
// instead (layerTar).
type sizePutter struct{ buf [32 << 10]byte }

func (p *sizePutter) Put(_ string, r io.Reader) (int64, []byte, error) {
	n, err := io.CopyBuffer(io.Discard, r, p.buf[:])
	return n, nil, err
}

// assemble writes the tar that metadata describes, its files read from
// root; each must have the size it had in the tar. The CRC-64 of layers
// pulled before sizePutter is not checked either: the caller checks the
// whole tar's digest.
func assemble(root *os.File, metadata storage.Unpacker, w io.Writer) error {
	buf := make([]byte, 32<<10)
	for {
		e, err := metadata.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch e.Type {
		case storage.SegmentType:
			if _, err := w.Write(e.Payload); err != nil {
				return err
			}
		case storage.FileType:
			if e.Size == 0 {
				continue
			}
			name := e.GetName()
			f, err := openRegularInRoot(root, name)
			if err != nil {
				return err
			}
			n, err := io.CopyBuffer(w, io.LimitReader(f, e.Size), buf)
			f.Close()
			if err != nil {
				return err
			}
			if n != e.Size {
				return fmt.Errorf("%s: %d bytes, the layer had %d", name, n, e.Size)
			}
		}
	}
}

// openRegularInRoot opens a regular file by its path under root, resolving
// every component inside root and refusing anything that is not a regular
// file (a FIFO would block the reader forever, a device would never end).
func openRegularInRoot(root *os.File, name string) (*os.File, error) {
	fd, err := unix.Openat2(int(root.Fd()), name, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, &os.PathError{Op: "open", Path: name, Err: errors.New("not a regular file")}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// layerTar writes a layer's tar to w: the original one when tar-split
// metadata can rebuild it exactly (its digest is the layer's diff ID), else
// gantry's own tar of the files. Returns the digest of what it wrote.
func layerTar(ctx context.Context, dir string, diffID digest.Digest, w io.Writer) (digest.Digest, error) {
	if _, err := os.Stat(tarSplitPath(dir)); err == nil {
		// Rebuild into a hash first: writing a wrong tar to w cannot be
		// taken back.
		got, err := writeOriginalTar(ctx, dir, io.Discard)
		if err == nil && got == diffID {
			return writeOriginalTar(ctx, dir, w)
		}
	}
	h := sha256.New()
	if err := archive.Diff(ctx, dir, io.MultiWriter(w, h), archive.TarOptions{}); err != nil {
		return "", err
	}
	return digest.NewDigest(digest.SHA256, h), nil
}
