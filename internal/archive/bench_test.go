package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// benchLayer is a generated layer like a language runtime's library tree:
// 20,000 small files (sizes skewed small, a few large) in 1,000 directories.
var benchLayer = sync.OnceValues(func() ([]byte, int) {
	rng := rand.New(rand.NewSource(42))
	words := []string{"import", "def ", "return", "self", "class ", "None", "\n", "    ", "(", ")", ":", "value", "# comment"}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Unix(1700000000, 0)
	body := make([]byte, 0, 1<<20)
	files := 0
	for d := 0; d < 1000; d++ {
		dir := fmt.Sprintf("usr/lib/python3/pkg%03d/sub%d/", d/10, d%10)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: mt, Format: tar.FormatPAX})
		for f := 0; f < 20; f++ {
			size := int(rng.ExpFloat64() * 4000)
			if rng.Intn(200) == 0 {
				size = 200000 + rng.Intn(800000)
			}
			body = body[:0]
			for len(body) < size {
				body = append(body, words[rng.Intn(len(words))]...)
			}
			body = body[:size]
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("%sfile%02d.py", dir, f), Size: int64(size), Mode: 0o644, ModTime: mt, Format: tar.FormatPAX})
			tw.Write(body)
			files++
		}
	}
	tw.Close()
	return buf.Bytes(), files
})

// benchDirs are where the Apply benchmarks unpack: the disk (the test's
// temporary directory, or $GANTRY_BENCH_DIR) and, when there is one, tmpfs,
// which shows our own cost without the filesystem's.
func benchDirs(b *testing.B) map[string]string {
	dirs := map[string]string{"disk": b.TempDir()}
	if d := os.Getenv("GANTRY_BENCH_DIR"); d != "" {
		dirs["disk"] = d
	}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "gantry-bench-")
		if err == nil {
			b.Cleanup(func() { os.RemoveAll(d) })
			dirs["tmpfs"] = d
		}
	}
	return dirs
}

// benchApply unpacks layer in each of benchDirs; open gives the stream
// Apply reads (the tar itself, or it decompressed).
func benchApply(b *testing.B, layer []byte, entries int, sync bool, open func() (io.ReadCloser, error)) {
	for fs, base := range benchDirs(b) {
		b.Run(fs, func(b *testing.B) { benchApplyIn(b, base, layer, entries, sync, open) })
	}
}

func benchApplyIn(b *testing.B, base string, layer []byte, entries int, sync bool, open func() (io.ReadCloser, error)) {
	b.Helper()
	b.SetBytes(int64(len(layer)))
	b.ReportAllocs()
	var elapsed time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir, err := os.MkdirTemp(base, "apply-")
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		b.StartTimer()
		var r io.ReadCloser = io.NopCloser(bytes.NewReader(layer))
		if open != nil {
			if r, err = open(); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := Apply(context.Background(), dir, r, ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
		r.Close()
		if sync {
			if err := Sync(context.Background(), dir); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		elapsed += time.Since(start)
		// Trees are removed only at the end: on an ext4 without a journal,
		// inode allocation skips recently deleted inodes one by one, and a
		// removal before each run makes creating files several times slower.
		b.StartTimer()
	}
	b.ReportMetric(float64(entries*b.N)/elapsed.Seconds(), "entries/s")
}

// BenchmarkApply unpacks the generated 20k-file layer (page cache only).
func BenchmarkApply(b *testing.B) {
	requireRoot(b)
	layer, files := benchLayer()
	benchApply(b, layer, files+1000, false, nil)
}

// BenchmarkApplySync adds the one syncfs per layer a pull does.
func BenchmarkApplySync(b *testing.B) {
	requireRoot(b)
	layer, files := benchLayer()
	benchApply(b, layer, files+1000, true, nil)
}

// BenchmarkApplyPython unpacks a tar of the host's /usr/lib/python3.*.
func BenchmarkApplyPython(b *testing.B) {
	requireRoot(b)
	matches, _ := filepath.Glob("/usr/lib/python3.*")
	if len(matches) == 0 {
		b.Skip("no /usr/lib/python3.* on this machine")
	}
	var buf bytes.Buffer
	if err := Tar(context.Background(), matches[0], &buf, TarOptions{}); err != nil {
		b.Fatal(err)
	}
	benchApply(b, buf.Bytes(), len(tarHeaders(b, buf.Bytes())), false, nil)
}

// BenchmarkApplyGzip is the pull path: a gzip-compressed layer through
// Decompress into Apply (bytes/s count the uncompressed tar).
func BenchmarkApplyGzip(b *testing.B) {
	requireRoot(b)
	layer, files := benchLayer()
	var gz bytes.Buffer
	w, _ := Compress(&gz, Gzip)
	w.Write(layer)
	w.Close()
	benchApply(b, layer, files+1000, false, func() (io.ReadCloser, error) {
		rc, _, err := Decompress(bytes.NewReader(gz.Bytes()))
		return rc, err
	})
}

// BenchmarkTar writes the unpacked generated layer back as a tar.
func BenchmarkTar(b *testing.B) {
	requireRoot(b)
	layer, files := benchLayer()
	dir := b.TempDir()
	if _, err := Apply(context.Background(), dir, bytes.NewReader(layer), ApplyOptions{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(layer)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := Tar(context.Background(), dir, io.Discard, TarOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((files+1000)*b.N)/time.Since(start).Seconds(), "entries/s")
}

// BenchmarkCompressGzip measures pgzip on the generated layer.
func BenchmarkCompressGzip(b *testing.B) {
	layer, _ := benchLayer()
	b.SetBytes(int64(len(layer)))
	for i := 0; i < b.N; i++ {
		w, _ := Compress(io.Discard, Gzip)
		w.Write(layer)
		w.Close()
	}
}
