package logger

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// records encodes n records of varying length and returns the file bytes
// and each record's start offset (plus the end).
func records(t testing.TB, f format, n int) ([]byte, []int64) {
	t.Helper()
	var b []byte
	offs := []int64{0}
	tm := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		line := fmt.Sprintf("line %d %s", i, bytes.Repeat([]byte("x"), i%97))
		var err error
		b, err = f.appendRecord(b, &Message{Stream: "stdout", Line: []byte(line), Time: tm.Add(time.Duration(i))}, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, int64(len(b)))
	}
	return b, offs
}

func TestTail(t *testing.T) {
	for _, f := range []format{jsonFormat{}, localFormat{}} {
		for _, total := range []int{0, 1, 2, 500, 3000} { // 3000 records span several chunks
			data, offs := records(t, f, total)
			for _, torn := range []int{0, 3} {
				file := data
				if torn > 0 && total > 0 {
					// A record being written: its first bytes only.
					next, _ := records(t, f, 1)
					file = append(append([]byte(nil), data...), next[:torn]...)
				}
				for _, n := range []int{0, 1, 2, 10, total - 1, total, total + 5} {
					if n < 0 {
						continue
					}
					name := fmt.Sprintf("%T/%d/torn%d/tail%d", f, total, torn, n)
					start, end, count, err := f.tail(bytes.NewReader(file), int64(len(file)), n)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					wantCount := min(n, total)
					if start != offs[total-wantCount] || end != int64(len(data)) || count != wantCount {
						t.Errorf("%s: tail = %d, %d, %d; want %d, %d, %d", name, start, end, count, offs[total-wantCount], len(data), wantCount)
					}
				}
			}
		}
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(b []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(b, off)
	c.n.Add(int64(n))
	return n, err
}

// sparseLog makes a 1 GiB log: a hole, then real records at the end.
func sparseLog(t *testing.T, f format, n int) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "big.log")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if err := file.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	data, _ := records(t, f, n)
	if _, err := file.WriteAt(data, 1<<30); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// TestTailReadsLittle: the last 10 records of a gigabyte cost a chunk or
// two of reading, not the gigabyte.
func TestTailReadsLittle(t *testing.T) {
	for _, f := range []format{jsonFormat{}, localFormat{}} {
		path, _ := sparseLog(t, f, 5000)
		file, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := file.Stat()
		cr := &countingReaderAt{r: file}
		_, _, count, err := f.tail(cr, st.Size(), 10)
		file.Close()
		if err != nil || count != 10 {
			t.Fatalf("%T: tail = %d, %v", f, count, err)
		}
		if n := cr.n.Load(); n > 2*tailChunk {
			t.Errorf("%T: tail of 10 records read %d bytes", f, n)
		}
	}
}

// TestReadTailBigFile runs the same through Read.
func TestReadTailBigFile(t *testing.T) {
	for _, driver := range []string{JSONFile, Local} {
		path, _ := sparseLog(t, formatFor(driver), 5000)
		var got []string
		err := Read(context.Background(), path, Config{Driver: driver}, ReadOptions{Tail: 10}, func(m Message) error {
			got = append(got, string(bytes.Fields(m.Line)[1]))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := 4990; i < 5000; i++ {
			want = append(want, strconv.Itoa(i))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: got %v, want %v", driver, got, want)
		}
	}
}
