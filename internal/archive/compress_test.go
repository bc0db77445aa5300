package archive

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"errors"
	"io"
	"math/rand"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

func compressWith(t *testing.T, c Compression, level int, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := CompressLevel(&buf, c, level)
	if err != nil {
		t.Fatalf("CompressLevel(%s, %d): %v", c, level, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testPayload is a layer-like mix: a tar with text and random bytes, a few
// MiB so that pgzip uses several blocks.
func testPayload(t *testing.T) []byte {
	rng := rand.New(rand.NewSource(1))
	random := make([]byte, 1<<20)
	rng.Read(random)
	text := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 60000)
	return buildTar(t, reg("random", string(random)), reg("text", string(text)))
}

func TestDecompressDetects(t *testing.T) {
	data := testPayload(t)
	stdGz := func() []byte {
		var buf bytes.Buffer
		w := stdgzip.NewWriter(&buf)
		w.Write(data[:1000])
		w.Close()
		// A second member, as concatenated gzip streams are.
		w = stdgzip.NewWriter(&buf)
		w.Write(data[1000:])
		w.Close()
		return buf.Bytes()
	}()
	zstdSkippable := func() []byte {
		// A skippable frame (magic 0x184D2A50, 4-byte length) before the data.
		frame := []byte{0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c'}
		return append(frame, compressWith(t, Zstd, 0, data)...)
	}()
	cases := []struct {
		name string
		in   []byte
		want Compression
		out  []byte
	}{
		{"uncompressed", data, Uncompressed, data},
		{"empty", nil, Uncompressed, nil},
		{"pgzip", compressWith(t, Gzip, 0, data), Gzip, data},
		{"pgzip best", compressWith(t, Gzip, 9, data), Gzip, data},
		{"stdlib multi-member gzip", stdGz, Gzip, data},
		{"zstd", compressWith(t, Zstd, 0, data), Zstd, data},
		{"zstd level 19", compressWith(t, Zstd, 19, data), Zstd, data},
		{"zstd after a skippable frame", zstdSkippable, Zstd, data},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc, got, err := Decompress(bytes.NewReader(c.in))
			if err != nil {
				t.Fatalf("Decompress: %v", err)
			}
			defer rc.Close()
			if got != c.want {
				t.Errorf("detected %s, want %s", got, c.want)
			}
			out, err := io.ReadAll(rc)
			if err != nil {
				t.Fatalf("reading: %v", err)
			}
			if !bytes.Equal(out, c.out) {
				t.Errorf("decompressed %d bytes, want %d equal bytes", len(out), len(c.out))
			}
		})
	}
}

func TestDecompressRefuses(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
	}{
		{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 4, 0xe6, 0xd6, 0xb4, 0x46}},
		{"bzip2", []byte("BZh91AY&SY")},
		{"corrupt gzip header", []byte{0x1f, 0x8b, 0xff}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc, _, err := Decompress(bytes.NewReader(c.in))
			if err == nil {
				rc.Close()
				t.Fatal("Decompress succeeded")
			}
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("error %v is not errdefs.Invalid", err)
			}
		})
	}
}

// Compressed layers are content addressed: the same tar must give the same
// blob whatever the machine's CPU count.
func TestCompressDeterministic(t *testing.T) {
	data := testPayload(t)
	for _, c := range []Compression{Gzip, Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			a := compressWith(t, c, 0, data)
			if b := compressWith(t, c, 0, data); !bytes.Equal(a, b) {
				t.Fatal("two runs differ")
			}
			for _, n := range []int{1, 8} {
				var buf bytes.Buffer
				switch c {
				case Gzip:
					w, _ := pgzip.NewWriterLevel(&buf, pgzip.DefaultCompression)
					w.SetConcurrency(1<<20, n)
					w.Write(data)
					w.Close()
				case Zstd:
					w, _ := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(n))
					w.Write(data)
					w.Close()
				}
				if !bytes.Equal(a, buf.Bytes()) {
					t.Errorf("output depends on concurrency: %d bytes, %d with %d", len(a), buf.Len(), n)
				}
			}
		})
	}
}

func TestCompressLevels(t *testing.T) {
	cases := []struct {
		c     Compression
		level int
		ok    bool
	}{
		{Gzip, 1, true}, {Gzip, 9, true}, {Gzip, -1, true}, {Gzip, 10, false}, {Gzip, -3, false},
		{Zstd, 1, true}, {Zstd, 22, true}, {Zstd, 23, false}, {Zstd, -1, false},
		{Uncompressed, 0, true}, {Compression(7), 0, false},
	}
	for _, c := range cases {
		_, err := CompressLevel(io.Discard, c.c, c.level)
		if (err == nil) != c.ok {
			t.Errorf("CompressLevel(%s, %d): %v", c.c, c.level, err)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("CompressLevel(%s, %d): %v is not errdefs.Invalid", c.c, c.level, err)
		}
	}
	// Uncompressed passes bytes through and does not close w.
	var buf bytes.Buffer
	w, _ := Compress(&buf, Uncompressed)
	w.Write([]byte("plain"))
	w.Close()
	if buf.String() != "plain" {
		t.Errorf("uncompressed wrote %q", buf.String())
	}
}

func TestCompressionString(t *testing.T) {
	for c, want := range map[Compression]string{Uncompressed: "uncompressed", Gzip: "gzip", Zstd: "zstd", 9: "compression(9)"} {
		if c.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(c), c.String(), want)
		}
	}
}

type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// A corrupt stream is the layer's fault (Invalid); a failing source keeps
// its own class.
func TestDecompressApplyErrorClasses(t *testing.T) {
	data := testPayload(t)
	gz := compressWith(t, Gzip, 0, data)
	zs := compressWith(t, Zstd, 0, data)
	corrupt := func(b []byte) []byte {
		b = append([]byte{}, b...)
		for i := len(b) / 2; i < len(b)/2+64; i++ {
			b[i] ^= 0x5a
		}
		return b
	}
	unavailable := errdefs.Unavailable("registry went away")
	cases := []struct {
		name  string
		r     io.Reader
		class error
	}{
		{"corrupt gzip", bytes.NewReader(corrupt(gz)), errdefs.ErrInvalid},
		{"truncated gzip", bytes.NewReader(gz[:len(gz)/2]), errdefs.ErrInvalid},
		{"corrupt zstd", bytes.NewReader(corrupt(zs)), errdefs.ErrInvalid},
		{"truncated tar", bytes.NewReader(data[:len(data)/2]), errdefs.ErrInvalid},
		{"source fails under gzip", &failingReader{bytes.NewReader(gz[:len(gz)/2]), unavailable}, errdefs.ErrUnavailable},
		{"source fails under zstd", &failingReader{bytes.NewReader(zs[:len(zs)/2]), unavailable}, errdefs.ErrUnavailable},
		{"source fails under tar", &failingReader{bytes.NewReader(data[:len(data)/2]), unavailable}, errdefs.ErrUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc, _, err := Decompress(c.r)
			if err == nil {
				_, err = Apply(context.Background(), t.TempDir(), rc, ApplyOptions{NoOwnership: true})
				rc.Close()
			}
			if !errors.Is(err, c.class) {
				t.Errorf("error %v, want class %v", err, c.class)
			}
			if c.class != errdefs.ErrInvalid && errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("error %v is also Invalid", err)
			}
		})
	}
}
