package content

import (
	"errors"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// bufSize is the size of a write buffer: small writes (io.Copy hands over
// 32 KiB) become few large write syscalls. Nothing is synced before Commit.
const bufSize = 1 << 20

// writebackChunk is how much written data may pile up in the page cache
// before the kernel is asked to start writing it out.
const writebackChunk = 8 << 20

var errStopped = errors.New("writer stopped")

// fileWriter buffers writes to a file and makes the write syscalls on a
// goroutine of its own, so that writing one buffer overlaps the caller
// receiving and hashing the next. Buffers are written in order, so the file
// always holds a prefix of the stream. A write error is kept and returned by
// every later call.
type fileWriter struct {
	f       *os.File
	cur     []byte      // being filled by the caller
	full    chan []byte // to be written, in order
	free    chan []byte // written, ready for reuse
	pending sync.WaitGroup
	done    chan struct{}
	stopped bool
	bufs    int // buffers made so far; the second only when needed

	mu  sync.Mutex
	err error

	// Owned by the goroutine, or by the caller after Flush.
	pos    int64 // file offset after the last write
	kicked int64 // offset up to which writeback has been started
	// noWriteback leaves the data to the page cache: set (before the
	// first write) for data that is read back soon and then thrown away.
	noWriteback bool
}

// newFileWriter writes to f from offset pos on, with buffers of bufLen
// bytes (less than bufSize for a small blob, so a manifest does not cost
// megabytes of allocation).
func newFileWriter(f *os.File, pos int64, bufLen int) *fileWriter {
	fw := &fileWriter{
		f:    f,
		cur:  make([]byte, 0, bufLen),
		bufs: 1,
		full: make(chan []byte, 1),
		free: make(chan []byte, 2),
		done: make(chan struct{}),
		pos:  pos, kicked: pos,
	}
	go fw.run()
	return fw
}

func (fw *fileWriter) run() {
	defer close(fw.done)
	for b := range fw.full {
		if fw.error() == nil {
			n, err := fw.f.Write(b)
			fw.pos += int64(n)
			if err != nil {
				fw.setError(err)
			} else {
				fw.startWriteback()
			}
		}
		fw.free <- b[:0]
		fw.pending.Done()
	}
}

// startWriteback asks the kernel to start (not wait for) the disk write of
// what was written since the last call, so the fsync at Commit finds little
// left and the disk works while the stream is still coming in.
func (fw *fileWriter) startWriteback() {
	if fw.noWriteback || fw.pos-fw.kicked < writebackChunk {
		return
	}
	// Only a hint: Commit's fsync is what makes the data durable.
	unix.SyncFileRange(int(fw.f.Fd()), fw.kicked, fw.pos-fw.kicked, unix.SYNC_FILE_RANGE_WRITE)
	fw.kicked = fw.pos
}

func (fw *fileWriter) error() error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.err
}

func (fw *fileWriter) setError(err error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.err == nil {
		fw.err = err
	}
}

// Write takes all of p, or nothing if an earlier write failed.
func (fw *fileWriter) Write(p []byte) (int, error) {
	if err := fw.error(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		k := copy(fw.cur[len(fw.cur):cap(fw.cur)], p)
		fw.cur = fw.cur[:len(fw.cur)+k]
		p = p[k:]
		if len(fw.cur) == cap(fw.cur) {
			fw.send()
		}
	}
	return n, nil
}

// space returns the free part of the current buffer, for a caller to read
// into directly; grow then takes n bytes of it.
func (fw *fileWriter) space() ([]byte, error) {
	if err := fw.error(); err != nil {
		return nil, err
	}
	return fw.cur[len(fw.cur):cap(fw.cur)], nil
}

func (fw *fileWriter) grow(n int) {
	fw.cur = fw.cur[:len(fw.cur)+n]
	if len(fw.cur) == cap(fw.cur) {
		fw.send()
	}
}

// send queues the current buffer for writing and takes an empty one. Two
// buffers: one filling while the other is written.
func (fw *fileWriter) send() {
	fw.pending.Add(1)
	fw.full <- fw.cur
	if fw.bufs < 2 {
		fw.bufs++
		fw.cur = make([]byte, 0, cap(fw.cur))
		return
	}
	fw.cur = <-fw.free
}

// Flush writes out everything taken so far and waits for it.
func (fw *fileWriter) Flush() error {
	if fw.stopped {
		return errStopped
	}
	if len(fw.cur) > 0 {
		// Hand the buffer over and take it back once written, rather than
		// make a second one as send might.
		fw.pending.Add(1)
		fw.full <- fw.cur
		fw.pending.Wait()
		fw.cur = <-fw.free
	}
	fw.pending.Wait()
	return fw.error()
}

// Stop ends the goroutine. Unless flushed before, buffered data is lost.
func (fw *fileWriter) Stop() {
	if fw.stopped {
		return
	}
	fw.setError(errStopped)
	fw.stopped = true
	close(fw.full)
	<-fw.done
}
