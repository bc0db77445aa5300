package logger

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// tailChunk is how much a tail reads at a time, from the end backwards: a
// `--tail 10` on a gigabyte of log reads a few of these, not the gigabyte.
const tailChunk = 32 << 10

// readFullAt reads len(b) bytes at off or fails.
func readFullAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// tailLines is tail for newline-terminated records. Bytes after the last
// newline are a record still being written and are left out.
func tailLines(r io.ReaderAt, size int64, n int) (start, end int64, count int, err error) {
	buf := make([]byte, min(size, tailChunk))
	end = -1
	for pos := size; pos > 0; {
		c := min(pos, tailChunk)
		pos -= c
		b := buf[:c]
		if err := readFullAt(r, b, pos); err != nil {
			return 0, 0, 0, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != '\n' {
				continue
			}
			off := pos + int64(i) + 1 // just after this newline
			if end < 0 {
				end = off
				if n <= 0 {
					return end, end, 0, nil
				}
				continue
			}
			// A newline before end closes one more whole record after it.
			count++
			if count == n {
				return off, end, count, nil
			}
		}
	}
	if end < 0 {
		return 0, 0, 0, nil
	}
	// The file's first record has no newline before it.
	return 0, end, count + 1, nil
}

// tailFrames is tail for the local format's records, walking the trailing
// sizes backwards.
func tailFrames(r io.ReaderAt, size int64, n int) (start, end int64, count int, err error) {
	br := backReader{r: r}
	end = size
	ok, err := br.recordEndsAt(end)
	if err != nil {
		return 0, 0, 0, err
	}
	if !ok {
		// A record still being written, or one torn by a crash: find the
		// last good boundary from the front. Rare, so done simply.
		if end, err = lastFrameEnd(r, size); err != nil {
			return 0, 0, 0, err
		}
	}
	pos := end
	for count < n && pos > 0 {
		sz, err := br.uint32At(pos - 4)
		if err != nil {
			return 0, 0, 0, err
		}
		next := pos - 8 - int64(sz)
		if sz < localHeader || next < 0 {
			return 0, 0, 0, fmt.Errorf("corrupt local log record before offset %d", pos)
		}
		pos = next
		count++
	}
	return pos, end, count, nil
}

// backReader reads small values near each other walking backwards through
// a file, a chunk at a time.
type backReader struct {
	r   io.ReaderAt
	buf []byte
	off int64 // file offset of buf[0]
	n   int   // valid bytes in buf
}

func (b *backReader) uint32At(off int64) (uint32, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if off < b.off || off+4 > b.off+int64(b.n) {
		if b.buf == nil {
			b.buf = make([]byte, tailChunk)
		}
		start := max(off+4-tailChunk, 0)
		b.n = 0
		if err := readFullAt(b.r, b.buf[:off+4-start], start); err != nil {
			return 0, err
		}
		b.off, b.n = start, int(off+4-start)
	}
	return binary.BigEndian.Uint32(b.buf[off-b.off:]), nil
}

// recordEndsAt says whether a whole record ends at end: its two sizes agree.
func (b *backReader) recordEndsAt(end int64) (bool, error) {
	if end == 0 {
		return true, nil
	}
	if end < 8+localHeader {
		return false, nil
	}
	sz, err := b.uint32At(end - 4)
	if err != nil {
		return false, err
	}
	start := end - 8 - int64(sz)
	if sz < localHeader || start < 0 {
		return false, nil
	}
	head, err := b.uint32At(start)
	return head == sz, err
}

// lastFrameEnd scans records from the start of the file and returns where
// the last whole one ends.
func lastFrameEnd(r io.ReaderAt, size int64) (int64, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 64<<10)
	var pos int64
	var b [4]byte
	for {
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return pos, nil
		}
		sz := int64(binary.BigEndian.Uint32(b[:]))
		if sz < localHeader || sz > maxRecord || pos+8+sz > size {
			return pos, nil
		}
		if _, err := br.Discard(int(sz)); err != nil {
			return pos, nil
		}
		if _, err := io.ReadFull(br, b[:]); err != nil || int64(binary.BigEndian.Uint32(b[:])) != sz {
			return pos, nil
		}
		pos += 8 + sz
	}
}

// countRecords counts the records in a stream (a compressed rotated file,
// which cannot be read backwards).
func countRecords(r io.Reader, f format) (int, error) {
	s := newScanner(f)
	s.reset(r, "")
	n := 0
	for {
		if _, err := s.next(); err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
		n++
	}
}
