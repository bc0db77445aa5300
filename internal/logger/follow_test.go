package logger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"
)

// follower runs a following read in the background, collecting line
// numbers.
type follower struct {
	started chan struct{} // closed when the follower follows
	mu      sync.Mutex
	got     []int
	seen    chan struct{} // signalled after each record
	err     chan error
}

func startFollow(t *testing.T, ctx context.Context, path string, cfg Config, opts ReadOptions) *follower {
	t.Helper()
	f := &follower{started: make(chan struct{}), seen: make(chan struct{}, 1), err: make(chan error, 1)}
	opts.Follow = true
	go func() {
		f.err <- read(ctx, path, cfg, opts, func(m Message) error {
			n := lineNumber(t, m)
			f.mu.Lock()
			f.got = append(f.got, n)
			f.mu.Unlock()
			select {
			case f.seen <- struct{}{}:
			default:
			}
			return nil
		}, tuning{poll: 2 * time.Millisecond, following: func() { close(f.started) }})
	}()
	return f
}

func (f *follower) lines() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// waitFor waits until the follower has read line n.
func (f *follower) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := f.lines(); len(got) > 0 && got[len(got)-1] >= n {
			return
		}
		select {
		case <-f.seen:
		case err := <-f.err:
			t.Fatalf("follow ended early: %v, read %v", err, f.lines())
		case <-deadline:
			t.Fatalf("line %d never read; read %v", n, f.lines())
		}
	}
}

func (f *follower) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-f.started:
	case err := <-f.err:
		t.Fatalf("follow ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not start")
	}
}

func (f *follower) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-f.err:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("follow did not end; read %v", f.lines())
		return nil
	}
}

// TestFollowConcurrentWriter follows a writer that rotates many times while
// it is read, as fast as it can write. With the rotated files kept
// uncompressed a follower that falls behind by several rotations still
// reads every line.
func TestFollowConcurrentWriter(t *testing.T) {
	for _, driver := range []string{JSONFile, Local} {
		t.Run(driver, func(t *testing.T) {
			cfg := Config{Driver: driver, Opts: map[string]string{"max-size": "4k", "max-file": "100", "compress": "false"}}
			path := Path(t.TempDir(), "c", cfg)
			w, err := New(path, cfg)
			if err != nil {
				t.Fatal(err)
			}
			writeLines(t, w, 0, 50)
			done := make(chan struct{})
			f := startFollow(t, context.Background(), path, cfg, ReadOptions{Tail: -1, Done: done})
			go func() {
				writeLines(t, w, 50, 3000)
				w.Close()
				close(done)
			}()
			if err := f.wait(t); err != nil {
				t.Fatal(err)
			}
			if got := f.lines(); !slices.Equal(got, seq(0, 3000)) {
				t.Errorf("read %d lines, first %v", len(got), got[:min(len(got), 20)])
			}
		})
	}
}

// TestFollowCompressedRotation moves in step with the follower: each batch
// of lines makes the writer rotate several times and gzip the files the
// follower has yet to read, including the one it is reading.
func TestFollowCompressedRotation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		batch int
	}{
		{"json-file", Config{Opts: map[string]string{"max-size": "200", "max-file": "2", "compress": "true"}}, 1},
		{"json-file behind", Config{Opts: map[string]string{"max-size": "200", "max-file": "6", "compress": "true"}}, 8},
		{"local behind", Config{Driver: Local, Opts: map[string]string{"max-size": "100", "max-file": "6"}}, 10},
		{"one file", Config{Opts: map[string]string{"max-size": "200", "max-file": "1"}}, 1},
	} {
		for _, tail := range []int{2, 0} {
			t.Run(fmt.Sprintf("%s/tail%d", tc.name, tail), func(t *testing.T) {
				path := Path(t.TempDir(), "c", tc.cfg)
				w, err := New(path, tc.cfg)
				if err != nil {
					t.Fatal(err)
				}
				writeLines(t, w, 0, 3)
				done := make(chan struct{})
				f := startFollow(t, context.Background(), path, tc.cfg, ReadOptions{Tail: tail, Done: done})
				if tail > 0 {
					f.waitFor(t, 2)
				} else {
					// Let the follower find the end of the file before
					// anything more is written.
					f.waitStarted(t)
				}
				for i := 3; i < 60; i += tc.batch {
					writeLines(t, w, i, i+tc.batch)
					f.waitFor(t, i+tc.batch-1)
				}
				w.Close()
				close(done)
				if err := f.wait(t); err != nil {
					t.Fatal(err)
				}
				end := 3 + (60-3+tc.batch-1)/tc.batch*tc.batch
				first := 3
				if tail > 0 {
					// Tail 2 of 0..2 is 1, 2 unless a rotation dropped 1.
					first = 1
					if got := f.lines(); len(got) > 0 && got[0] == 2 {
						first = 2
					}
				}
				if got := f.lines(); !slices.Equal(got, seq(first, end)) {
					t.Errorf("read %v", got)
				}
			})
		}
	}
}

func TestFollowTailZero(t *testing.T) {
	cfg := Config{}
	path := Path(t.TempDir(), "c", cfg)
	w, _ := New(path, cfg)
	writeLines(t, w, 0, 10)
	ctx, cancel := context.WithCancel(context.Background())
	f := startFollow(t, ctx, path, cfg, ReadOptions{Tail: 0})
	f.waitStarted(t)
	writeLines(t, w, 10, 15)
	f.waitFor(t, 14)
	cancel()
	if err := f.wait(t); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled follow = %v", err)
	}
	w.Close()
	if got := f.lines(); !slices.Equal(got, seq(10, 15)) {
		t.Errorf("read %v", got)
	}
}

// TestFollowDone: a follower of a finished container reads what is there
// and ends.
func TestFollowDone(t *testing.T) {
	cfg := Config{Driver: Local}
	path := Path(t.TempDir(), "c", cfg)
	w, _ := New(path, cfg)
	writeLines(t, w, 0, 10)
	w.Close()
	done := make(chan struct{})
	close(done)
	f := startFollow(t, context.Background(), path, cfg, ReadOptions{Tail: -1, Done: done})
	if err := f.wait(t); err != nil {
		t.Fatal(err)
	}
	if got := f.lines(); !slices.Equal(got, seq(0, 10)) {
		t.Errorf("read %v", got)
	}
}

// TestFollowUntil: following stops at the first record after Until, or
// when the clock passes it.
func TestFollowUntil(t *testing.T) {
	cfg := Config{}
	path := Path(t.TempDir(), "c", cfg)
	w, _ := New(path, cfg)
	defer w.Close()
	base := time.Now().Add(time.Hour) // Until in the future for the clock
	write := func(from, to int) {
		for i := from; i < to; i++ {
			if err := w.Log(Message{Stream: "stdout", Line: fmt.Appendf(nil, "%d\n", i), Time: base.Add(time.Duration(i) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	follow := func(until time.Time) (<-chan struct{}, <-chan error, func() string) {
		var mu sync.Mutex
		var got []byte
		started, errc := make(chan struct{}), make(chan error, 1)
		go func() {
			errc <- read(context.Background(), path, cfg, ReadOptions{Tail: -1, Follow: true, Until: until}, func(m Message) error {
				mu.Lock()
				got = append(got, m.Line...)
				mu.Unlock()
				return nil
			}, tuning{poll: 2 * time.Millisecond, following: func() { close(started) }})
		}()
		return started, errc, func() string { mu.Lock(); defer mu.Unlock(); return string(got) }
	}
	wait := func(c <-chan struct{}, errc <-chan error) error {
		select {
		case <-c:
			return nil
		case err := <-errc:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("timed out")
			return nil
		}
	}

	write(0, 5)
	started, errc, got := follow(base.Add(7 * time.Second))
	if err := wait(started, nil); err != nil {
		t.Fatal(err)
	}
	write(5, 12)
	if err := wait(nil, errc); err != nil {
		t.Fatal(err)
	}
	if want := "0\n1\n2\n3\n4\n5\n6\n7\n"; got() != want {
		t.Errorf("read %q, want %q", got(), want)
	}

	// An Until the clock passes while nothing comes ends the follow too.
	_, errc, _ = follow(time.Now().Add(50 * time.Millisecond))
	if err := wait(nil, errc); err != nil {
		t.Fatal(err)
	}
}

// TestFollowOtherProcess is the real arrangement: the writer is another
// process (this test binary, run as TestHelperWriter), followed by several
// readers here, through rotations and compression.
func TestFollowOtherProcess(t *testing.T) {
	for _, driver := range []string{JSONFile, Local} {
		t.Run(driver, func(t *testing.T) {
			cfg := Config{Driver: driver, Opts: map[string]string{"max-size": "2k", "max-file": "200", "compress": "true"}}
			path := Path(t.TempDir(), "c", cfg)
			w, err := New(path, cfg) // the file exists before readers start, as the shim makes it
			if err != nil {
				t.Fatal(err)
			}
			w.Close()
			done := make(chan struct{})
			var followers []*follower
			for range 3 {
				followers = append(followers, startFollow(t, context.Background(), path, cfg, ReadOptions{Tail: -1, Done: done}))
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
			cmd.Env = append(os.Environ(), "LOGGER_TEST_WRITER="+path, "LOGGER_TEST_DRIVER="+driver)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("writer: %v\n%s", err, out)
			}
			close(done)
			for _, f := range followers {
				if err := f.wait(t); err != nil {
					t.Fatal(err)
				}
				if got := f.lines(); !slices.Equal(got, seq(0, 2000)) {
					t.Errorf("read %d lines, first %v", len(got), got[:min(len(got), 20)])
				}
			}
		})
	}
}

func TestHelperWriter(t *testing.T) {
	path := os.Getenv("LOGGER_TEST_WRITER")
	if path == "" {
		t.Skip("run by TestFollowOtherProcess")
	}
	cfg := Config{Driver: os.Getenv("LOGGER_TEST_DRIVER"), Opts: map[string]string{"max-size": "2k", "max-file": "200", "compress": "true"}}
	w, err := New(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	writeLines(t, w, 0, 2000)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
