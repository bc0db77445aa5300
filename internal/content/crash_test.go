package content

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// The crash tests run this test binary again as a writer process and kill it
// with SIGKILL. These variables tell the child what to do.
const (
	helperRoot = "GANTRY_CONTENT_HELPER_ROOT"
	helperMode = "GANTRY_CONTENT_HELPER_MODE"
	helperArg  = "GANTRY_CONTENT_HELPER_ARG"
)

// crashBlob is the i-th blob a helper writes: sizes vary from empty to a few
// write buffers.
func crashBlob(i int) []byte { return payload(uint64(100+i), (i*777_777)%(3*bufSize+1)) }

func crashKey(i int) string { return "crash:" + strconv.Itoa(i) }

// TestMain turns the test binary into the writer the crash tests kill when
// they start it with helperRoot set.
func TestMain(m *testing.M) {
	if root := os.Getenv(helperRoot); root != "" {
		crashWriter(root)
	}
	os.Exit(m.Run())
}

// crashWriter ingests as the crash tests tell it, until it is killed.
func crashWriter(root string) {
	ctx := context.Background()
	s, err := Open(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	arg, _ := strconv.Atoi(os.Getenv(helperArg))
	switch os.Getenv(helperMode) {
	case "partial":
		// Write arg bytes of blob 3 without closing, then die.
		data := crashBlob(3)
		w, err := s.Writer(ctx, crashKey(3), digest.FromBytes(data), int64(len(data)))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for off := 0; off < arg; off += 64 << 10 {
			w.Write(data[off:min(off+64<<10, arg)])
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	case "loop":
		// Ingest blob after blob until the parent kills us.
		for i := 0; ; i++ {
			data := crashBlob(i)
			w, err := s.Writer(ctx, crashKey(i), digest.FromBytes(data), int64(len(data)))
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			for off := 0; off < len(data); off += 32 << 10 {
				w.Write(data[off:min(off+32<<10, len(data))])
			}
			if _, err := w.Commit(ctx); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
	}
	os.Exit(3)
}

func runHelper(t *testing.T, root, mode string, arg int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperRoot+"="+root, helperMode+"="+mode, helperArg+"="+strconv.Itoa(arg))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if stderr.Len() > 0 {
			t.Logf("helper stderr: %s", stderr.String())
		}
	})
	return cmd
}

// TestKillDuringWrite kills a writer at several points and resumes its
// ingest: the lock dies with it, and the data on disk is a prefix whose hash
// the resume recomputes.
func TestKillDuringWrite(t *testing.T) {
	ctx := context.Background()
	data := crashBlob(3)
	for _, at := range []int{0, 1000, bufSize - 1, bufSize + 1, 2*bufSize + 5000, len(data)} {
		t.Run(strconv.Itoa(at), func(t *testing.T) {
			root := t.TempDir()
			cmd := runHelper(t, root, "partial", at)
			err := cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("helper did not die by SIGKILL: %v", err)
			}
			s, err := Open(root)
			if err != nil {
				t.Fatal(err)
			}
			w, err := s.Writer(ctx, crashKey(3), digest.FromBytes(data), int64(len(data)))
			if err != nil {
				t.Fatalf("resume after kill: %v", err)
			}
			off := w.Offset()
			if off > int64(at) {
				t.Fatalf("Offset %d beyond the %d bytes written", off, at)
			}
			if w.Digest() != digest.FromBytes(data[:off]) {
				t.Fatalf("resumed digest does not match the prefix of %d bytes", off)
			}
			w.Write(data[off:])
			if _, err := w.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if p, err := s.Check(ctx, false); err != nil || len(p) != 0 {
				t.Errorf("Check after resume: %v %v", p, err)
			}
		})
	}
}

// TestKillAnyMoment kills a process that ingests blob after blob at random
// moments; each time the store must open clean (Check finds nothing), and
// every ingest the process left must resume to a good blob.
func TestKillAnyMoment(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 8 {
		root := t.TempDir()
		cmd := runHelper(t, root, "loop", 0)
		time.Sleep(time.Duration(30+rng.IntN(250)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		s, err := Open(root)
		if err != nil {
			t.Fatal(err)
		}
		problems, err := s.Check(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) != 0 {
			t.Fatalf("round %d: Check after kill -9:\n%s", round, strings.Join(problems, "\n"))
		}
		committed := 0
		s.Walk(ctx, func(Info) error { committed++; return nil })
		ingests, err := s.Ingests(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range ingests {
			i, _ := strconv.Atoi(strings.TrimPrefix(in.Key, "crash:"))
			data := crashBlob(i)
			w, err := s.Writer(ctx, in.Key, digest.FromBytes(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			w.Write(data[w.Offset():])
			if _, err := w.Commit(ctx); err != nil {
				t.Fatalf("round %d: resume %s: %v", round, in.Key, err)
			}
		}
		t.Logf("round %d: %d blobs committed before the kill, %d ingests resumed", round, committed, len(ingests))
	}
}

// TestOpenRepairsCrashStates builds by hand the states a crash between two
// steps leaves, and checks what Open keeps.
func TestOpenRepairsCrashStates(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	blob, err := s.Ingest(ctx, "done", "", -1, strings.NewReader("committed"))
	if err != nil {
		t.Fatal(err)
	}
	mkIngest := func(key string, meta, data bool) string {
		dir := s.ingestDir(key)
		os.MkdirAll(dir, 0o700)
		os.WriteFile(filepath.Join(dir, "lock"), nil, 0o600)
		if meta {
			writeMeta(dir, ingestMeta{Key: key, Size: -1})
		}
		if data {
			os.WriteFile(filepath.Join(dir, "data"), []byte("partial"), 0o600)
		}
		return dir
	}
	resumable := mkIngest("resumable", true, true)
	os.WriteFile(filepath.Join(resumable, tmpPrefix+"meta-dead"), []byte(`{"key":`), 0o600) // meta rewrite cut short
	renamed := mkIngest("renamed", true, false)                                             // crash after the rename into blobs/
	noMeta := mkIngest("nometa", false, true)                                               // crash before the meta rename
	torn := mkIngest("torn", false, true)
	os.WriteFile(filepath.Join(torn, "meta"), nil, 0o600) // renamed but never synced
	rootTemp := filepath.Join(s.ingestRoot(), tmpPrefix+"x")
	os.WriteFile(rootTemp, nil, 0o600)

	held, err := s.Writer(ctx, "held", "", -1) // a live writer, e.g. in another process
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(s.ingestDir("held"), "meta")) // would be removed if not locked
	defer held.Discard()

	if _, err := Open(s.Root()); err != nil {
		t.Fatal(err)
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	for _, c := range []struct {
		path string
		want bool
	}{
		{filepath.Join(resumable, "data"), true},
		{filepath.Join(resumable, tmpPrefix+"meta-dead"), false},
		{renamed, false},
		{noMeta, false},
		{torn, false},
		{rootTemp, false},
		{s.ingestDir("held"), true},
	} {
		if got := exists(c.path); got != c.want {
			t.Errorf("%s exists = %v, want %v", c.path, got, c.want)
		}
	}
	if _, err := s.ReadAll(ctx, blob); err != nil {
		t.Errorf("committed blob: %v", err)
	}
	w, err := s.Writer(ctx, "resumable", "", -1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Discard()
	if w.Offset() != int64(len("partial")) {
		t.Errorf("resumable ingest at %d", w.Offset())
	}
}

// mountTiny mounts a 1 MiB tmpfs for the test, or skips when it cannot.
func mountTiny(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	s, err := Open(mountTiny(t))
	if err != nil {
		t.Fatal(err)
	}
	data := payload(9, 2<<20)

	t.Run("Ingest", func(t *testing.T) {
		_, err := s.Ingest(ctx, "big", "", -1, bytes.NewReader(data))
		if !errors.Is(err, errdefs.ErrUnavailable) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Ingest on a full disk: %v, want ErrUnavailable wrapping ENOSPC", err)
		}
		t.Logf("error: %v", err)
		if !strings.Contains(err.Error(), "disk full") {
			t.Errorf("message does not say the disk is full: %q", err)
		}
		if left := files(t, s.ingestRoot()); len(left) != 0 {
			t.Errorf("ingest left on a full disk: %v", left)
		}
	})

	t.Run("Writer then Discard", func(t *testing.T) {
		w, err := s.Writer(ctx, "big", digest.FromBytes(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		var werr error
		for off := 0; off < len(data) && werr == nil; off += 32 << 10 {
			_, werr = w.Write(data[off : off+32<<10])
		}
		if werr == nil {
			_, werr = w.Commit(ctx)
		}
		if !errors.Is(werr, syscall.ENOSPC) {
			t.Fatalf("write on a full disk: %v", werr)
		}
		t.Logf("error: %v", werr)
		// The writer stays failed.
		if _, err := w.Write([]byte("x")); !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("Write after ENOSPC: %v", err)
		}
		if err := w.Discard(); err != nil {
			t.Fatal(err)
		}
		if left := files(t, s.ingestRoot()); len(left) != 0 {
			t.Errorf("ingest left after Discard: %v", left)
		}
	})

	t.Run("full before start", func(t *testing.T) {
		// Fill the file system to the last byte, outside the store.
		filler, err := os.Create(filepath.Join(s.Root(), "filler"))
		if err != nil {
			t.Fatal(err)
		}
		for err == nil {
			_, err = filler.Write(make([]byte, 4096))
		}
		filler.Close()
		defer os.Remove(filler.Name())
		_, err = s.Ingest(ctx, "nospace", "", -1, strings.NewReader("x"))
		if !errors.Is(err, errdefs.ErrUnavailable) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Ingest on a full disk: %v, want ErrUnavailable wrapping ENOSPC", err)
		}
		t.Logf("error: %v", err)
		if left := files(t, s.ingestRoot()); len(left) != 0 {
			t.Errorf("ingest left on a full disk: %v", left)
		}
	})

	t.Run("usable after", func(t *testing.T) {
		if _, err := s.Ingest(ctx, "small", "", -1, strings.NewReader("fits")); err != nil {
			t.Fatalf("store unusable after a full disk: %v", err)
		}
	})
}

func TestGC(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var ds []digest.Digest
	for _, c := range []string{"keep me", "drop me", "drop me too"} {
		d, err := s.Ingest(ctx, "k", "", -1, strings.NewReader(c))
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	old := time.Now().Add(-2 * time.Hour)
	partial := func(key string, expected digest.Digest, age time.Time) *Writer {
		w, err := s.Writer(ctx, key, expected, -1)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("12345"))
		w.Close()
		os.Chtimes(filepath.Join(s.ingestDir(key), "data"), age, age)
		return w
	}
	staleDigest := digest.FromString("stale")
	partial("stale", staleDigest, old)
	partial("fresh", "", time.Now())
	partial("held", "", old)
	held, err := s.Writer(ctx, "held", "", -1) // Writer itself touches the data
	if err != nil {
		t.Fatal(err)
	}
	os.Chtimes(filepath.Join(s.ingestDir("held"), "data"), old, old)
	defer held.Discard()

	removed, err := s.GC(ctx, func(d digest.Digest) bool { return d == ds[0] }, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []Info{
		{Digest: ds[1], Size: 7},
		{Digest: ds[2], Size: 11},
		{Digest: staleDigest, Size: 5, Ingest: "stale"},
	}
	sortInfos := func(in []Info) {
		sort.Slice(in, func(i, j int) bool { return in[i].Ingest+string(in[i].Digest) < in[j].Ingest+string(in[j].Digest) })
	}
	sortInfos(want)
	sortInfos(removed)
	if diff := cmp.Diff(want, removed); diff != "" {
		t.Errorf("GC removed (-want +got):\n%s", diff)
	}
	if _, err := s.Info(ctx, ds[0]); err != nil {
		t.Errorf("kept blob: %v", err)
	}
	for _, d := range ds[1:] {
		if _, err := s.Info(ctx, d); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("collected blob %s: %v", d, err)
		}
	}
	var keys []string
	st, _ := s.Ingests(ctx)
	for _, in := range st {
		keys = append(keys, in.Key)
	}
	sort.Strings(keys)
	if diff := cmp.Diff([]string{"fresh", "held"}, keys); diff != "" {
		t.Errorf("ingests after GC (-want +got):\n%s", diff)
	}

	// A negative age keeps every ingest.
	removed, err = s.GC(ctx, func(digest.Digest) bool { return true }, -1)
	if err != nil || len(removed) != 0 {
		t.Errorf("GC keeping all: %v %v", removed, err)
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	good, err := s.Ingest(ctx, "k", "", -1, strings.NewReader("good blob"))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := s.Ingest(ctx, "k", "", -1, bytes.NewReader(payload(5, 5000)))
	if err != nil {
		t.Fatal(err)
	}
	// Flip one byte of bad.
	p := filepath.Join(s.algDir(digest.SHA256), bad.Encoded())
	os.Chmod(p, 0o644)
	b, _ := os.ReadFile(p)
	b[1234] ^= 0x40
	os.WriteFile(p, b, 0o444)
	corruptDigest := digest.FromBytes(b)

	stray := filepath.Join(s.algDir(digest.SHA256), "junk")
	os.WriteFile(stray, []byte("?"), 0o600)
	badAlg := filepath.Join(s.root, "blobs", "md5")
	os.Mkdir(badAlg, 0o700)
	ingestStray := filepath.Join(s.ingestRoot(), "notahash")
	os.WriteFile(ingestStray, nil, 0o600)
	tornDir := s.ingestDir("torn")
	os.MkdirAll(tornDir, 0o700)
	os.WriteFile(filepath.Join(tornDir, "meta"), []byte("{"), 0o600)

	want := []string{
		"blob " + bad.String() + " is corrupt: content hashes to " + corruptDigest.String(),
		"stray file " + stray,
		"stray file " + badAlg,
		"stray file " + ingestStray,
		"ingest " + tornDir + " cannot be resumed: ingest " + filepath.Base(tornDir) + ": meta: unexpected end of JSON input",
	}
	sort.Strings(want)
	got, err := s.Check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
	if _, err := s.ReadAll(ctx, bad); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("ReadAll of a corrupt blob: %v, want ErrInvalid", err)
	}

	got, err = s.Check(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	for i := range want {
		want[i] += " (removed)"
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Check repair (-want +got):\n%s", diff)
	}
	if got, err := s.Check(ctx, false); err != nil || len(got) != 0 {
		t.Errorf("Check after repair: %v %v", got, err)
	}
	if _, err := s.Info(ctx, bad); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("corrupt blob after repair: %v", err)
	}
	if _, err := s.ReadAll(ctx, good); err != nil {
		t.Errorf("good blob after repair: %v", err)
	}
}
