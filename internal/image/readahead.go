package image

import (
	"io"
	"sync"
)

// readAhead reads r on a goroutine of its own into a few buffers, so that
// the stage before it (tar-split's recording, which hands its bytes over
// an unbuffered pipe) keeps working while the stage after it (extraction,
// mostly syscalls) is busy: on a pull the two otherwise take turns.
// Close stops the goroutine; it does not close r.
type readAhead struct {
	full chan []byte // filled buffers, in order
	free chan []byte // buffers to fill
	buf  []byte      // the buffer being read, returned to free once read
	cur  []byte      // what is left of it
	err  error       // r's error, after the last full buffer
	errc chan error  // the goroutine's last word: r's error, or errClosed
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

const (
	readAheadBufs = 8
	readAheadSize = 256 << 10
)

func newReadAhead(r io.Reader) *readAhead {
	ra := &readAhead{
		full: make(chan []byte, readAheadBufs),
		free: make(chan []byte, readAheadBufs),
		errc: make(chan error, 1),
		stop: make(chan struct{}),
	}
	for range readAheadBufs {
		ra.free <- make([]byte, readAheadSize)
	}
	ra.wg.Add(1)
	go ra.fill(r)
	return ra
}

func (ra *readAhead) fill(r io.Reader) {
	err := io.ErrClosedPipe
	defer func() {
		ra.errc <- err
		close(ra.full)
		ra.wg.Done()
	}()
	for {
		select {
		case <-ra.stop:
			return
		default:
		}
		var b []byte
		select {
		case b = <-ra.free:
		case <-ra.stop:
			return
		}
		n, rerr := io.ReadAtLeast(r, b, 1)
		if n > 0 {
			select {
			case ra.full <- b[:n]:
			case <-ra.stop:
				return
			}
		}
		if rerr != nil {
			err = rerr
			return
		}
	}
}

func (ra *readAhead) Read(p []byte) (int, error) {
	for len(ra.cur) == 0 {
		if ra.buf != nil {
			ra.free <- ra.buf[:cap(ra.buf)] // never blocks: there are as many slots as buffers
			ra.buf = nil
		}
		if ra.err != nil {
			return 0, ra.err
		}
		b, ok := <-ra.full
		if !ok {
			ra.err = <-ra.errc
			continue
		}
		ra.buf, ra.cur = b, b
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// Close stops reading ahead and waits for the goroutine: r is then no
// longer read.
func (ra *readAhead) Close() error {
	ra.once.Do(func() { close(ra.stop) })
	ra.wg.Wait()
	return nil
}
