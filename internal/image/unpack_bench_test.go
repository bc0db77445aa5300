package image

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
)

// BenchmarkUnpackStream unpacks the gzip layer named by GANTRY_BENCH_LAYER
// (e.g. the big layer of bench/pyapp:1 from the peers' registry) as a pull
// does, with and without reading ahead of the extraction.
func BenchmarkUnpackStream(b *testing.B) {
	path := os.Getenv("GANTRY_BENCH_LAYER")
	if path == "" {
		b.Skip("GANTRY_BENCH_LAYER names no layer")
	}
	for _, ra := range []bool{false, true} {
		name := "direct"
		if ra {
			name = "readahead"
		}
		b.Run(name, func(b *testing.B) {
			noReadAhead = !ra
			defer func() { noReadAhead = false }()
			for b.Loop() {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				dir := filepath.Join(b.TempDir(), "fs")
				os.Mkdir(dir, 0o755)
				// The diff ID is not known here: the mismatch comes at the end,
				// after all the work.
				_, err = unpackStream(context.Background(), dir, f, digest.FromString("unknown"))
				f.Close()
				if err == nil {
					b.Fatal("the diff ID check passed for a made-up diff ID")
				}
				os.RemoveAll(filepath.Dir(dir))
			}
		})
	}
}
