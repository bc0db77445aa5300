package image

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// readAhead gives the bytes of its source in order, then the source's error.
func TestReadAheadGivesAllBytesThenTheError(t *testing.T) {
	data := make([]byte, 3*readAheadSize*readAheadBufs/2+12345)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	ra := newReadAhead(iotest.HalfReader(bytes.NewReader(data)))
	got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(ra, 100)))
	if err != nil || !bytes.Equal(got, data[:100]) {
		t.Fatalf("first 100 bytes: %v", err)
	}
	rest, err := io.ReadAll(ra)
	if err != nil || !bytes.Equal(rest, data[100:]) {
		t.Fatalf("rest: %d bytes, %v; want %d bytes", len(rest), err, len(data)-100)
	}
	ra.Close()

	boom := errors.New("boom")
	ra = newReadAhead(io.MultiReader(bytes.NewReader(data[:1000]), iotest.ErrReader(boom)))
	got, err = io.ReadAll(ra)
	if !errors.Is(err, boom) || !bytes.Equal(got, data[:1000]) {
		t.Errorf("source failing after 1000 bytes: got %d bytes, %v", len(got), err)
	}
	ra.Close()
}

// Close stops the goroutine even when nobody reads what it read ahead.
func TestReadAheadClose(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		for {
			if _, err := pw.Write(make([]byte, 64<<10)); err != nil {
				return
			}
		}
	}()
	ra := newReadAhead(pr)
	buf := make([]byte, 10)
	if _, err := ra.Read(buf); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { ra.Close(); close(done) }()
	<-done // a hang here fails the test by its timeout
	pr.Close()
}
