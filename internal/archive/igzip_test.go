package archive

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand"
	"os"
	"testing"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// A large gzip stream decodes through igzip to the same bytes as through
// the Go decoder, several members included; a corrupt or truncated one is
// invalid gzip, and a failing source keeps its own error.
func TestDecompressSizedWithIgzip(t *testing.T) {
	if igzipPath() == "" {
		if os.Getenv("GANTRY_BIN") != "" {
			t.Fatal("igzip is not installed: make test installs Debian's isal")
		}
		t.Skip("igzip is not installed (Debian's isal)")
	}
	// Half random (incompressible), half text: more than igzipMinSize
	// compressed.
	plain := make([]byte, 12<<20)
	rand.New(rand.NewSource(1)).Read(plain[:6<<20])
	for i := 6 << 20; i < len(plain); i++ {
		plain[i] = "gantry pulls layers\n"[i%20]
	}
	var gz bytes.Buffer
	for _, part := range [][]byte{plain[:4<<20], plain[4<<20:]} { // two members
		zw := gzip.NewWriter(&gz)
		zw.Write(part)
		zw.Close()
	}
	compressed := gz.Bytes()

	r, c, err := DecompressSized(bytes.NewReader(compressed), int64(len(compressed)))
	if err != nil || c != Gzip {
		t.Fatalf("DecompressSized: %v %v", c, err)
	}
	if _, ok := r.(*igzipReader); !ok {
		t.Fatalf("a %d-byte gzip stream was not given to igzip", len(compressed))
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("igzip gave %d bytes (%v), want the %d written", len(got), err, len(plain))
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("a read after the end: %d %v", n, err)
	}
	r.Close()

	corrupt := bytes.Clone(compressed)
	for i := 1000; i < 1100; i++ {
		corrupt[i] ^= 0x5a
	}
	for name, data := range map[string][]byte{"corrupt": corrupt, "truncated": compressed[:len(compressed)/2]} {
		r, _, err := DecompressSized(bytes.NewReader(data), int64(len(compressed)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, r)
		r.Close()
		if !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%s stream: %v, want invalid gzip", name, err)
		}
	}

	broken := errors.New("connection reset")
	r, _, err = DecompressSized(io.MultiReader(bytes.NewReader(compressed[:1<<20]), errReader{broken}), int64(len(compressed)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, r)
	r.Close()
	if !errors.Is(err, broken) {
		t.Errorf("a failing source: %v, want its own error", err)
	}

	// Closing before the end stops igzip.
	r, _, _ = DecompressSized(bytes.NewReader(compressed), int64(len(compressed)))
	io.ReadFull(r, make([]byte, 1000))
	r.Close()
	if z := r.(*igzipReader); z.cmd.ProcessState == nil {
		t.Error("igzip still runs after Close")
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
