package content

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkIngest measures a pull's write path: 32 KiB writes (io.Copy's
// size) into a Writer with the size known, then Commit.
func BenchmarkIngest(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20, 64 << 20} {
		b.Run(strconv.Itoa(size>>10)+"KiB", func(b *testing.B) {
			ctx := context.Background()
			s := newStore(b)
			data := payload(11, size)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				// Each round is a new blob so Commit always renames.
				data[0] = byte(i)
				data[1] = byte(i >> 8)
				if _, err := s.Ingest(ctx, "bench", "", int64(size), bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSHA256 is the ceiling BenchmarkIngest is measured against.
func BenchmarkSHA256(b *testing.B) {
	data := payload(11, 64<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		sha256.Sum256(data)
	}
}

// BenchmarkRawWrite is the disk's ceiling: 1 MiB writes of 64 MiB to a new
// file, fsync, no hashing.
func BenchmarkRawWrite(b *testing.B) {
	dir := b.TempDir()
	data := payload(11, 64<<20)
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		f, err := os.Create(filepath.Join(dir, strconv.Itoa(i)))
		if err != nil {
			b.Fatal(err)
		}
		for off := 0; off < len(data); off += 1 << 20 {
			f.Write(data[off : off+1<<20])
		}
		f.Sync()
		f.Close()
	}
}
