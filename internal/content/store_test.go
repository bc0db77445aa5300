package content

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// payload returns n deterministic pseudo-random bytes, the same in every
// process for the same seed.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// files lists every file and directory under dir, relative to it.
func files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIngestAndReadBack(t *testing.T) {
	ctx := context.Background()
	big := payload(1, 3*bufSize+17) // crosses the write buffer several times
	tests := []struct {
		name     string
		data     []byte
		expected bool // pass the digest in
		size     bool // pass the size in
		alg      digest.Algorithm
	}{
		{"empty", nil, true, true, digest.SHA256},
		{"small known", []byte("hello, gantry\n"), true, true, digest.SHA256},
		{"small unknown", []byte("no digest given"), false, false, digest.SHA256},
		{"big known", big, true, true, digest.SHA256},
		{"big size only", big, false, true, digest.SHA256},
		{"sha512", []byte("longer digest"), true, true, digest.SHA512},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			want := tt.alg.FromBytes(tt.data)
			var expected digest.Digest
			if tt.expected {
				expected = want
			}
			size := int64(-1)
			if tt.size {
				size = int64(len(tt.data))
			}
			got, err := s.Ingest(ctx, "test:"+tt.name, expected, size, bytes.NewReader(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("Ingest = %s, want %s", got, want)
			}
			info, err := s.Info(ctx, want)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(Info{Digest: want, Size: int64(len(tt.data))}, info); diff != "" {
				t.Errorf("Info (-want +got):\n%s", diff)
			}
			b, err := s.ReadAll(ctx, want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, tt.data) {
				t.Errorf("ReadAll returned %d bytes, not what was written", len(b))
			}
			f, err := s.Open(ctx, want)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if len(tt.data) > 10 {
				part := make([]byte, 5)
				if _, err := f.ReadAt(part, 5); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(part, tt.data[5:10]) {
					t.Errorf("ReadAt(5) = %q, want %q", part, tt.data[5:10])
				}
			}
			if left := files(t, s.ingestRoot()); len(left) != 0 {
				t.Errorf("ingest dir not empty after commit: %v", left)
			}
			st, _ := os.Stat(filepath.Join(s.algDir(tt.alg), want.Encoded()))
			if st.Mode().Perm() != 0o444 {
				t.Errorf("blob mode %v, want read-only", st.Mode())
			}
		})
	}
}

func TestCommitMismatch(t *testing.T) {
	ctx := context.Background()
	data := []byte("the real content")
	other := digest.FromString("something else")
	tests := []struct {
		name     string
		expected digest.Digest
		size     int64
		wantMsg  string
	}{
		{"wrong digest", other, int64(len(data)), "blob " + other.String() + ": digest mismatch: got " + digest.FromBytes(data).String()},
		{"wrong digest unknown size", other, -1, "blob " + other.String() + ": digest mismatch: got " + digest.FromBytes(data).String()},
		{"too short", digest.FromBytes(data), int64(len(data)) + 1, "blob " + digest.FromBytes(data).String() + ": size mismatch: expected 17 bytes, got 16"},
		{"too long unknown digest", "", 3, "ingest k: size mismatch: expected 3 bytes, got 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			w, err := s.Writer(ctx, "k", tt.expected, tt.size)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(data); err != nil {
				t.Fatal(err)
			}
			_, err = w.Commit(ctx)
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("Commit error %v, want ErrInvalid", err)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("Commit error %q, want %q", err, tt.wantMsg)
			}
			if left := files(t, s.ingestRoot()); len(left) != 0 {
				t.Errorf("ingest left after mismatch: %v", left)
			}
			var blobs []Info
			s.Walk(ctx, func(i Info) error { blobs = append(blobs, i); return nil })
			if len(blobs) != 0 {
				t.Errorf("blobs after mismatch: %v", blobs)
			}
			// The writer is finished; cleanup calls are harmless.
			if err := w.Close(); err != nil {
				t.Errorf("Close after failed Commit: %v", err)
			}
			if err := w.Discard(); err != nil {
				t.Errorf("Discard after failed Commit: %v", err)
			}
		})
	}

	t.Run("Ingest", func(t *testing.T) {
		s := newStore(t)
		_, err := s.Ingest(ctx, "k", other, -1, bytes.NewReader(data))
		if !errors.Is(err, errdefs.ErrInvalid) {
			t.Fatalf("Ingest error %v, want ErrInvalid", err)
		}
		if left := files(t, s.ingestRoot()); len(left) != 0 {
			t.Errorf("ingest left: %v", left)
		}
	})
}

func TestResume(t *testing.T) {
	ctx := context.Background()
	data := payload(2, 2*bufSize+12345)
	want := digest.FromBytes(data)
	half := len(data) / 2

	s := newStore(t)
	w, err := s.Writer(ctx, "pull:x", want, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// A new Store, as after a daemon restart: Open must keep the ingest.
	s, err = Open(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Ingests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].Key != "pull:x" || st[0].Offset != int64(half) || st[0].Expected != want || st[0].Size != int64(len(data)) {
		t.Errorf("Ingests = %+v", st)
	}
	// Resuming without repeating expected/size still checks them.
	w, err = s.Writer(ctx, "pull:x", "", -1)
	if err != nil {
		t.Fatal(err)
	}
	if w.Offset() != int64(half) {
		t.Fatalf("Offset = %d, want %d", w.Offset(), half)
	}
	if w.Digest() != digest.FromBytes(data[:half]) {
		t.Fatalf("Digest of resumed prefix wrong")
	}
	if _, err := w.Write(data[w.Offset():]); err != nil {
		t.Fatal(err)
	}
	got, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Commit = %s, want %s", got, want)
	}
	b, err := s.ReadAll(ctx, want)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("ReadAll after resume: %v", err)
	}

	t.Run("other content restarts", func(t *testing.T) {
		w, err := s.Writer(ctx, "pull:y", digest.FromString("a"), -1)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("partial"))
		w.Close()
		w, err = s.Writer(ctx, "pull:y", digest.FromString("b"), -1)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Discard()
		if w.Offset() != 0 {
			t.Errorf("Offset = %d after a change of expected digest, want 0", w.Offset())
		}
	})

	t.Run("wrong resumed content is caught", func(t *testing.T) {
		w, err := s.Writer(ctx, "pull:z", want, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data[:100])
		w.Close()
		// Something scribbles over the partial data between runs.
		p := filepath.Join(s.ingestDir("pull:z"), "data")
		os.WriteFile(p, bytes.Repeat([]byte{'x'}, 100), 0o600)
		w, err = s.Writer(ctx, "pull:z", want, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data[w.Offset():])
		if _, err := w.Commit(ctx); !errors.Is(err, errdefs.ErrInvalid) {
			t.Fatalf("Commit of scribbled ingest: %v, want ErrInvalid", err)
		}
	})

	t.Run("Ingest restarts a partial", func(t *testing.T) {
		w, err := s.Writer(ctx, "pull:w", "", -1)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("garbage first"))
		w.Close()
		d, err := s.Ingest(ctx, "pull:w", "", -1, strings.NewReader("clean"))
		if err != nil {
			t.Fatal(err)
		}
		if d != digest.FromString("clean") {
			t.Errorf("Ingest over a partial = %s, want digest of the new stream", d)
		}
	})
}

func TestTruncate(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	w, err := s.Writer(ctx, "t", "", -1)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("drop-this"))
	if err := w.Truncate(); err != nil {
		t.Fatal(err)
	}
	if w.Offset() != 0 || w.Digest() != digest.FromString("") {
		t.Fatalf("after Truncate: offset %d digest %s", w.Offset(), w.Digest())
	}
	w.Write([]byte("keep-this"))
	d, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := s.ReadAll(ctx, d); string(b) != "keep-this" {
		t.Errorf("content %q", b)
	}
}

// TestPartialReader replays what a resumed ingest holds while writing goes
// on, as a pull that unpacks while it downloads does.
func TestPartialReader(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	data := payload(4, bufSize+500)
	w, err := s.Writer(ctx, "p", digest.FromBytes(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[:bufSize-100]) // partly still in the buffer
	w.Close()
	w, err = s.Writer(ctx, "p", digest.FromBytes(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[w.Offset() : w.Offset()+50]) // more before the replay starts
	partial, err := w.PartialReader()
	if err != nil {
		t.Fatal(err)
	}
	defer partial.Close()
	var got bytes.Buffer
	rest := io.TeeReader(bytes.NewReader(data[w.Offset():]), w)
	if _, err := io.Copy(&got, io.MultiReader(partial, rest)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("replay + rest differs from the stream (%d bytes)", got.Len())
	}
	if _, err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentWriterRefused(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	w, err := s.Writer(ctx, "pull:busy", "", -1)
	if err != nil {
		t.Fatal(err)
	}
	// Same process, and a second Store on the same root (as another process
	// would have): flock is per open file, so both are refused.
	other, err := Open(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []*Store{s, other} {
		_, err = st.Writer(ctx, "pull:busy", "", -1)
		if !errors.Is(err, errdefs.ErrUnavailable) {
			t.Fatalf("second Writer: %v, want ErrUnavailable", err)
		}
		if want := "ingest pull:busy is in progress"; err.Error() != want {
			t.Errorf("second Writer: %q, want %q", err, want)
		}
	}
	// Another key is independent.
	w2, err := s.Writer(ctx, "pull:other", "", -1)
	if err != nil {
		t.Fatal(err)
	}
	w2.Discard()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = other.Writer(ctx, "pull:busy", "", -1)
	if err != nil {
		t.Fatalf("Writer after Close: %v", err)
	}
	w.Discard()
}

func TestCommitExistingBlob(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	d := digest.FromString("twice")
	if _, err := s.Ingest(ctx, "first", d, 5, strings.NewReader("twice")); err != nil {
		t.Fatal(err)
	}
	// Through a Writer, with the digest unknown: Commit finds the blob.
	got, err := s.Ingest(ctx, "second", "", -1, strings.NewReader("twice"))
	if err != nil || got != d {
		t.Fatalf("second ingest = %s, %v", got, err)
	}
	// With the digest known, Ingest does not even read.
	got, err = s.Ingest(ctx, "third", d, 5, iotest.ErrReader(errors.New("read")))
	if err != nil || got != d {
		t.Fatalf("ingest of a present blob = %s, %v", got, err)
	}
	if left := files(t, s.ingestRoot()); len(left) != 0 {
		t.Errorf("ingest left: %v", left)
	}
}

func TestNotFoundAndInvalid(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	missing := digest.FromString("missing")
	tests := []struct {
		name  string
		call  func(digest.Digest) error
		class error
		d     digest.Digest
	}{
		{"Info", func(d digest.Digest) error { _, err := s.Info(ctx, d); return err }, errdefs.ErrNotFound, missing},
		{"Open", func(d digest.Digest) error { _, err := s.Open(ctx, d); return err }, errdefs.ErrNotFound, missing},
		{"ReadAll", func(d digest.Digest) error { _, err := s.ReadAll(ctx, d); return err }, errdefs.ErrNotFound, missing},
		{"Delete", func(d digest.Digest) error { return s.Delete(ctx, d) }, errdefs.ErrNotFound, missing},
		{"Info bad", func(d digest.Digest) error { _, err := s.Info(ctx, d); return err }, errdefs.ErrInvalid, "sha256:xyz"},
		{"Info traversal", func(d digest.Digest) error { _, err := s.Info(ctx, d); return err }, errdefs.ErrInvalid, "sha256:../../etc/passwd"},
		{"Info md5", func(d digest.Digest) error { _, err := s.Info(ctx, d); return err }, errdefs.ErrInvalid, "md5:d41d8cd98f00b204e9800998ecf8427e"},
		{"Writer bad expected", func(d digest.Digest) error { _, err := s.Writer(ctx, "k", d, -1); return err }, errdefs.ErrInvalid, "sha256:nothex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(tt.d); !errors.Is(err, tt.class) {
				t.Errorf("error %v, want class %v", err, tt.class)
			}
		})
	}
	if _, err := s.Writer(ctx, "", "", -1); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Writer with empty key: %v", err)
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	d, err := s.Ingest(ctx, "k", "", -1, strings.NewReader("bye"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Info(ctx, d); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Info after Delete: %v", err)
	}
	if b, _ := io.ReadAll(f); string(b) != "bye" {
		t.Errorf("open reader lost its data: %q", b)
	}
}

func TestWalk(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var want []Info
	for i := range 5 {
		data := payload(uint64(i), 100*i)
		d, err := s.Ingest(ctx, "k", "", -1, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, Info{Digest: d, Size: int64(len(data))})
	}
	sort.Slice(want, func(i, j int) bool { return want[i].Digest < want[j].Digest })
	// Strays are not blobs.
	os.WriteFile(filepath.Join(s.algDir(digest.SHA256), "not-a-digest"), nil, 0o600)
	os.Mkdir(filepath.Join(s.algDir(digest.SHA256), strings.Repeat("a", 64)), 0o700)

	var got []Info
	if err := s.Walk(ctx, func(i Info) error { got = append(got, i); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Walk (-want +got):\n%s", diff)
	}

	stop := errors.New("stop")
	n := 0
	err := s.Walk(ctx, func(Info) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("Walk with failing fn: err %v after %d calls", err, n)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Walk(cctx, func(Info) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Walk with cancelled context: %v", err)
	}
}

func TestIngestCancelled(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := &cancelAfter{r: bytes.NewReader(payload(3, 8<<20)), cancel: cancel, n: 3}
	_, err := s.Ingest(ctx, "k", "", -1, r)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Ingest: %v, want context.Canceled", err)
	}
	if left := files(t, s.ingestRoot()); len(left) != 0 {
		t.Errorf("ingest left: %v", left)
	}
}

// cancelAfter cancels its context after n reads.
type cancelAfter struct {
	r      io.Reader
	cancel func()
	n      int
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	c.n--
	if c.n == 0 {
		c.cancel()
	}
	return c.r.Read(p)
}

// TestReadFromError: a source failing half way leaves what it gave, ready to
// resume from there.
func TestReadFromError(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	w, err := s.Writer(ctx, "flaky", "", -1)
	if err != nil {
		t.Fatal(err)
	}
	cut := errors.New("connection reset")
	n, err := io.Copy(w, io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(cut)))
	if !errors.Is(err, cut) || n != 3 {
		t.Fatalf("io.Copy = %d, %v", n, err)
	}
	if w.Offset() != 3 || w.Digest() != digest.FromString("abc") {
		t.Fatalf("after a failed read: offset %d digest %s", w.Offset(), w.Digest())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = s.Writer(ctx, "flaky", "", -1)
	if err != nil {
		t.Fatal(err)
	}
	if w.Offset() != 3 {
		t.Fatalf("resumed at %d, want 3", w.Offset())
	}
	io.Copy(w, strings.NewReader("def"))
	d, err := w.Commit(ctx)
	if err != nil || d != digest.FromString("abcdef") {
		t.Fatalf("Commit = %s, %v", d, err)
	}
}
