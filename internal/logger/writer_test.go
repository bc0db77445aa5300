package logger

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// t0 is the time of line 0; line i is written at t0 + i seconds.
var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func lineMsg(i int) Message {
	stream := "stdout"
	if i%3 == 0 {
		stream = "stderr"
	}
	return Message{Stream: stream, Line: []byte(fmt.Sprintf("line %d\n", i)), Time: t0.Add(time.Duration(i) * time.Second)}
}

func writeLines(t testing.TB, w Writer, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := w.Log(lineMsg(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// lineNumbers reads the log and returns the numbers of its lines.
func lineNumbers(t testing.TB, path string, cfg Config, opts ReadOptions) []int {
	t.Helper()
	var got []int
	err := Read(context.Background(), path, cfg, opts, func(m Message) error {
		got = append(got, lineNumber(t, m))
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return got
}

func lineNumber(t testing.TB, m Message) int {
	t.Helper()
	s, ok := strings.CutPrefix(string(m.Line), "line ")
	n, err := strconv.Atoi(strings.TrimSuffix(s, "\n"))
	if !ok || err != nil {
		t.Fatalf("unexpected line %q", m.Line)
	}
	if want := lineMsg(n); m.Stream != want.Stream || !m.Time.Equal(want.Time) || m.Partial {
		t.Fatalf("line %d read as %+v", n, m)
	}
	return n
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func logFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestRotation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		files   []string
		maxSize int64
	}{
		{"json-file", Config{Opts: map[string]string{"max-size": "1k", "max-file": "3"}}, []string{"c-json.log", "c-json.log.1", "c-json.log.2"}, 1024},
		{"json-file one file", Config{Opts: map[string]string{"max-size": "1k", "max-file": "1"}}, []string{"c-json.log"}, 1024},
		{"json-file compressed", Config{Opts: map[string]string{"max-size": "1k", "max-file": "4", "compress": "true"}}, []string{"c-json.log", "c-json.log.1.gz", "c-json.log.2.gz", "c-json.log.3.gz"}, 1024},
		{"local", Config{Driver: Local, Opts: map[string]string{"max-size": "1k", "max-file": "3", "compress": "false"}}, []string{"container.log", "container.log.1", "container.log.2"}, 1024},
		{"local compressed by default", Config{Driver: Local, Opts: map[string]string{"max-size": "1k"}}, []string{"container.log", "container.log.1.gz", "container.log.2.gz", "container.log.3.gz", "container.log.4.gz"}, 1024},
		{"unlimited", Config{Opts: map[string]string{"max-size": "-1"}}, []string{"c-json.log"}, 1 << 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := Path(dir, "c", tc.cfg)
			w, err := New(path, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			writeLines(t, w, 0, 500)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Log(lineMsg(500)); !errors.Is(err, errdefs.ErrConflict) {
				t.Errorf("Log after Close = %v", err)
			}
			names := logFiles(t, dir)
			if !slices.Equal(names, tc.files) {
				t.Fatalf("files %v, want %v", names, tc.files)
			}
			for _, n := range names {
				st, err := os.Stat(filepath.Join(dir, n))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasSuffix(n, ".gz") && st.Size() > tc.maxSize {
					t.Errorf("%s is %d bytes, over max-size", n, st.Size())
				}
				if st.Mode().Perm() != 0o640 {
					t.Errorf("%s has mode %v", n, st.Mode())
				}
			}
			// What is left is the newest lines, all of them, in order.
			got := lineNumbers(t, path, tc.cfg, ReadOptions{Tail: -1})
			if len(got) == 0 || got[len(got)-1] != 499 || !slices.Equal(got, seq(got[0], 500)) {
				t.Errorf("read back %v", got)
			}
		})
	}
}

func TestCompressedHeader(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Opts: map[string]string{"max-size": "1k", "max-file": "2", "compress": "true"}}
	path := Path(dir, "c", cfg)
	w, err := New(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	writeLines(t, w, 0, 100)
	w.Close()
	f, err := os.Open(path + ".1.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	// dockerd's header: {"lastTime":...} in Extra, the last record's time.
	var meta struct{ LastTime time.Time }
	if err := json.Unmarshal(zr.Header.Extra, &meta); err != nil {
		t.Fatalf("Extra %q: %v", zr.Header.Extra, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	var last Message
	if err := (jsonFormat{}).decode(lines[len(lines)-1], &last); err != nil {
		t.Fatal(err)
	}
	if !meta.LastTime.Equal(last.Time) {
		t.Errorf("lastTime %v, want %v", meta.LastTime, last.Time)
	}
}

func TestWriterNormalises(t *testing.T) {
	for _, driver := range []string{JSONFile, Local} {
		path := filepath.Join(t.TempDir(), "log")
		cfg := Config{Driver: driver, Attrs: map[string]string{"tag": "web", "a": "1"}}
		w, err := New(path, cfg)
		if err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		for _, m := range []Message{
			{Stream: "stdout", Line: []byte("no newline")},
			{Stream: "stdout", Partial: true},                                                     // dropped
			{Stream: "stdout", Line: []byte("part"), Partial: true},                               // kept as is
			{Stream: "stderr", Line: nil},                                                         // an empty line
			{Stream: "stdout", Line: []byte("x\n"), Attrs: map[string]string{"a": "2", "b": "3"}}, // merged
		} {
			if err := w.Log(m); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
		var got []Message
		if err := Read(context.Background(), path, cfg, ReadOptions{Tail: -1}, func(m Message) error {
			got = append(got, m)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want := []struct {
			line    string
			partial bool
			attrs   map[string]string
		}{
			{"no newline\n", false, cfg.Attrs},
			{"part", true, cfg.Attrs},
			{"\n", false, cfg.Attrs},
			{"x\n", false, map[string]string{"tag": "web", "a": "2", "b": "3"}},
		}
		if len(got) != len(want) {
			t.Fatalf("%s: read %d records: %+v", driver, len(got), got)
		}
		for i, m := range got {
			if string(m.Line) != want[i].line || m.Partial != want[i].partial || fmt.Sprint(m.Attrs) != fmt.Sprint(want[i].attrs) {
				t.Errorf("%s: record %d = %+v, want %+v", driver, i, m, want[i])
			}
			if m.Time.Before(before.Add(-time.Second)) || m.Time.After(time.Now()) {
				t.Errorf("%s: record %d has time %v", driver, i, m.Time)
			}
		}
	}
}

// TestTornRecord: a writer that died in mid-record leaves a piece; the
// next one cuts it off instead of gluing the next record to it.
func TestTornRecord(t *testing.T) {
	for _, driver := range []string{JSONFile, Local} {
		path := filepath.Join(t.TempDir(), "log")
		cfg := Config{Driver: driver}
		w, err := New(path, cfg)
		if err != nil {
			t.Fatal(err)
		}
		writeLines(t, w, 0, 10)
		w.Close()
		rec, _ := formatFor(driver).appendRecord(nil, ptr(lineMsg(10)), false, nil)
		f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		f.Write(rec[:len(rec)/2])
		f.Close()

		// Readers see the whole records meanwhile.
		if got := lineNumbers(t, path, cfg, ReadOptions{Tail: -1}); !slices.Equal(got, seq(0, 10)) {
			t.Errorf("%s: before repair read %v", driver, got)
		}
		if got := lineNumbers(t, path, cfg, ReadOptions{Tail: 2}); !slices.Equal(got, seq(8, 10)) {
			t.Errorf("%s: before repair tail read %v", driver, got)
		}
		w, err = New(path, cfg)
		if err != nil {
			t.Fatal(err)
		}
		writeLines(t, w, 10, 20)
		w.Close()
		if got := lineNumbers(t, path, cfg, ReadOptions{Tail: -1}); !slices.Equal(got, seq(0, 20)) {
			t.Errorf("%s: read %v", driver, got)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestNewErrors(t *testing.T) {
	if _, err := New(filepath.Join(t.TempDir(), "missing", "log"), Config{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("New in a missing directory = %v", err)
	}
	if _, err := New(filepath.Join(t.TempDir(), "log"), Config{Driver: "gelf"}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("New with an unknown driver = %v", err)
	}
}

func TestNoneDriver(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	w, err := New(path, Config{Driver: None})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Log(lineMsg(1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if names := logFiles(t, dir); len(names) != 0 {
		t.Errorf("none wrote %v", names)
	}
	err = Read(context.Background(), path, Config{Driver: None}, ReadOptions{Tail: -1}, func(Message) error { return nil })
	if !errors.Is(err, errdefs.ErrInvalid) || err.Error() != "configured logging driver does not support reading" {
		t.Errorf("Read of none = %v", err)
	}
}

func BenchmarkWriter(b *testing.B) {
	for _, driver := range []string{JSONFile, Local} {
		b.Run(driver, func(b *testing.B) {
			w, err := New(filepath.Join(b.TempDir(), "log"), Config{Driver: driver})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			m := Message{Stream: "stdout", Line: []byte("a typical log line of some eighty bytes, with <html> & \"quotes\" in it\n"), Time: time.Now()}
			b.SetBytes(int64(len(m.Line)))
			for b.Loop() {
				w.Log(m)
			}
		})
	}
}
