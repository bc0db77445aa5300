package logger

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// TestReadDockerFile reads a log dockerd wrote, and checks that what we
// write for the same records is that file, byte for byte.
func TestReadDockerFile(t *testing.T) {
	dir := t.TempDir()
	var file strings.Builder
	var want []Message
	for _, l := range dockerLines {
		file.WriteString(l.line + "\n")
		want = append(want, l.want)
	}
	docker := filepath.Join(dir, "docker-json.log")
	if err := os.WriteFile(docker, []byte(file.String()), 0o640); err != nil {
		t.Fatal(err)
	}
	var got []Message
	if err := Read(context.Background(), docker, Config{}, ReadOptions{Tail: -1}, func(m Message) error {
		got = append(got, m)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("read (-want +got):\n%s", diff)
	}

	ours := filepath.Join(dir, "ours-json.log")
	w, err := New(ours, Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range want {
		if err := w.Log(m); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	b, err := os.ReadFile(ours)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != file.String() {
		t.Errorf("wrote\n%s\nwant\n%s", b, file.String())
	}
}

func TestReadSinceUntil(t *testing.T) {
	for _, driver := range []string{JSONFile, Local} {
		cfg := Config{Driver: driver, Opts: map[string]string{"max-size": "512", "max-file": "100"}}
		path := Path(t.TempDir(), "c", cfg)
		w, err := New(path, cfg)
		if err != nil {
			t.Fatal(err)
		}
		writeLines(t, w, 0, 100) // line i at t0+i s, over several files
		w.Close()
		at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
		for _, tc := range []struct {
			name string
			opts ReadOptions
			want []int
		}{
			{"all", ReadOptions{Tail: -1}, seq(0, 100)},
			{"since is inclusive", ReadOptions{Tail: -1, Since: at(40)}, seq(40, 100)},
			{"since between", ReadOptions{Tail: -1, Since: at(40).Add(time.Millisecond)}, seq(41, 100)},
			{"until is inclusive, as in docker", ReadOptions{Tail: -1, Until: at(60)}, seq(0, 61)},
			{"until between", ReadOptions{Tail: -1, Until: at(60).Add(-time.Millisecond)}, seq(0, 60)},
			{"both", ReadOptions{Tail: -1, Since: at(10), Until: at(19)}, seq(10, 20)},
			{"since after all", ReadOptions{Tail: -1, Since: at(100)}, nil},
			{"tail then since", ReadOptions{Tail: 10, Since: at(95)}, seq(95, 100)},
			{"tail then until", ReadOptions{Tail: 10, Until: at(92)}, seq(90, 93)},
			{"until in the past ends a follow", ReadOptions{Tail: 3, Until: at(98), Follow: true}, seq(97, 99)},
		} {
			t.Run(driver+"/"+tc.name, func(t *testing.T) {
				got := lineNumbers(t, path, cfg, tc.opts)
				if !slices.Equal(got, tc.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			})
		}
	}
}

func TestReadTailRotated(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"json-file", Config{Opts: map[string]string{"max-size": "300", "max-file": "50"}}},
		{"json-file compressed", Config{Opts: map[string]string{"max-size": "300", "max-file": "50", "compress": "true"}}},
		{"local", Config{Driver: Local, Opts: map[string]string{"max-size": "300", "max-file": "50", "compress": "false"}}},
		{"local compressed", Config{Driver: Local, Opts: map[string]string{"max-size": "300", "max-file": "50"}}},
		{"json-file one file", Config{Opts: map[string]string{"max-size": "300", "max-file": "1"}}},
	} {
		path := Path(t.TempDir(), "c", tc.cfg)
		w, err := New(path, tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		writeLines(t, w, 0, 200)
		w.Close()
		all := lineNumbers(t, path, tc.cfg, ReadOptions{Tail: -1})
		if len(all) == 0 || all[len(all)-1] != 199 || !slices.Equal(all, seq(all[0], 200)) {
			t.Fatalf("%s: all = %v", tc.name, all)
		}
		for _, n := range []int{0, 1, 5, 7, 23, 100, len(all), len(all) + 1, 1000} {
			want := all[len(all)-min(n, len(all)):]
			if got := lineNumbers(t, path, tc.cfg, ReadOptions{Tail: n}); !slices.Equal(got, want) {
				t.Errorf("%s: tail %d = %v, want %v", tc.name, n, got, want)
			}
		}
		// Since skips whole compressed files by their header, and must
		// not change the answer.
		since := t0.Add(150 * time.Second)
		if got := lineNumbers(t, path, tc.cfg, ReadOptions{Tail: -1, Since: since}); !slices.Equal(got, seq(max(150, all[0]), 200)) {
			t.Errorf("%s: since = %v", tc.name, got)
		}
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	err := Read(context.Background(), filepath.Join(dir, "missing"), Config{}, ReadOptions{Tail: -1}, func(Message) error { return nil })
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Read of a missing log = %v", err)
	}
	err = Read(context.Background(), filepath.Join(dir, "missing"), Config{Driver: "journald"}, ReadOptions{Tail: -1}, func(Message) error { return nil })
	if !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Read with an unknown driver = %v", err)
	}

	path := filepath.Join(dir, "log")
	w, _ := New(path, Config{})
	writeLines(t, w, 0, 10)
	w.Close()
	stop := errors.New("stop")
	n := 0
	err = Read(context.Background(), path, Config{}, ReadOptions{Tail: -1}, func(Message) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Errorf("Read = %v after %d records, want fn's error after 3", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err = Read(ctx, path, Config{}, ReadOptions{Tail: -1}, func(Message) error {
		n++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Errorf("cancelled Read = %v after %d records", err, n)
	}
}

// TestReadSkipsDamage: a stray line in a json-file log is skipped, not fatal.
func TestReadSkipsDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	data := dockerLines[1].line + "\nnot json at all\n\n" + dockerLines[2].line + "\n"
	os.WriteFile(path, []byte(data), 0o640)
	var got []string
	if err := Read(context.Background(), path, Config{}, ReadOptions{Tail: -1}, func(m Message) error {
		got = append(got, string(m.Line))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"++ id -u\n", "log message\n"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
