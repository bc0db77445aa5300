package shim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/internal/logger"
)

// maxLogLine is where a line without a newline is cut into a partial
// message, as Docker does (16 KiB).
const maxLogLine = 16 * 1024

// fanout copies a process's output to its log and to every attached
// client.
type fanout struct {
	log    logger.Writer // nil for an exec, which is not logged
	frames bool          // multiplex (no terminal) or raw (terminal)

	mu     sync.Mutex
	subs   map[net.Conn]subscription
	pumps  sync.WaitGroup
	closed bool

	// A respawn stops the pumps (stop) and takes over what they read from.
	readers  map[*os.File]bool
	stopping bool
	stopped  []stoppedPump
}

// stoppedPump is a pump a respawn stopped: its stream, its source, and the
// start of a line it had not logged yet.
type stoppedPump struct {
	stream  byte
	r       *os.File
	pending []byte
}

type subscription struct{ stdout, stderr bool }

func newFanout(log logger.Writer, frames bool) *fanout {
	return &fanout{log: log, frames: frames, subs: map[net.Conn]subscription{}, readers: map[*os.File]bool{}}
}

// addReplying answers the client (answer) and, when subscribe is set,
// subscribes it, with no output sent in between: nothing is lost and no
// frame comes before the answer.
func (f *fanout) addReplying(c net.Conn, subscribe, stdout, stderr bool, answer func() error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := answer(); err != nil {
		return err
	}
	if !subscribe {
		return nil
	}
	if f.closed {
		c.Close()
		return nil
	}
	f.subs[c] = subscription{stdout, stderr}
	return nil
}

func (f *fanout) add(c net.Conn, stdout, stderr bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		c.Close()
		return
	}
	f.subs[c] = subscription{stdout, stderr}
}

// pump copies r until it ends, pending being the start of a line read
// before (by the process that respawned into this one).
func (f *fanout) pump(stream byte, r *os.File, pending []byte) {
	f.pumps.Add(1)
	f.mu.Lock()
	f.readers[r] = true
	f.mu.Unlock()
	go func() {
		defer f.pumps.Done()
		name := "stdout"
		if stream == streamStderr {
			name = "stderr"
		}
		buf := make([]byte, 32*1024)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				chunk := buf[:n]
				f.send(stream, chunk)
				if f.log != nil {
					pending = f.logLines(name, append(pending, chunk...))
				}
			}
			if err != nil {
				f.mu.Lock()
				delete(f.readers, r)
				if f.stopping && errors.Is(err, os.ErrDeadlineExceeded) {
					f.stopped = append(f.stopped, stoppedPump{stream, r, pending})
					f.mu.Unlock()
					return
				}
				f.mu.Unlock()
				if f.log != nil && len(pending) > 0 {
					_ = f.log.Log(logger.Message{Stream: name, Line: pending, Partial: true, Time: time.Now().UTC()})
				}
				r.Close()
				return
			}
		}
	}()
}

// attached says whether any client is subscribed to the output.
func (f *fanout) attached() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs) > 0
}

// stop makes every pump return without closing its source, and returns
// them; it fails, stopping none, when a source cannot be given a read
// deadline.
func (f *fanout) stop() ([]stoppedPump, error) {
	f.mu.Lock()
	for r := range f.readers {
		if err := r.SetReadDeadline(time.Time{}); err != nil {
			f.mu.Unlock()
			return nil, err
		}
	}
	f.stopping = true
	for r := range f.readers {
		_ = r.SetReadDeadline(time.Unix(1, 0))
	}
	f.mu.Unlock()
	f.pumps.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	stopped := f.stopped
	f.stopping, f.stopped = false, nil
	return stopped, nil
}

// restart runs pumps stop returned again.
func (f *fanout) restart(stopped []stoppedPump) {
	for _, p := range stopped {
		_ = p.r.SetReadDeadline(time.Time{})
		f.pump(p.stream, p.r, p.pending)
	}
}

// logLines logs the complete lines of data and returns what is left.
func (f *fanout) logLines(stream string, data []byte) []byte {
	now := time.Now().UTC()
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		_ = f.log.Log(logger.Message{Stream: stream, Line: data[:i+1], Time: now})
		data = data[i+1:]
	}
	for len(data) >= maxLogLine {
		_ = f.log.Log(logger.Message{Stream: stream, Line: data[:maxLogLine], Partial: true, Time: now})
		data = data[maxLogLine:]
	}
	// Keep the rest in a buffer of its own: data aliases the read buffer.
	return append([]byte(nil), data...)
}

func (f *fanout) send(stream byte, chunk []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.subs) == 0 {
		return
	}
	var msg []byte
	if f.frames {
		msg = make([]byte, 8+len(chunk))
		msg[0] = stream
		binary.BigEndian.PutUint32(msg[4:], uint32(len(chunk)))
		copy(msg[8:], chunk)
	} else {
		msg = chunk
	}
	for c, sub := range f.subs {
		if (stream == streamStdout && !sub.stdout) || (stream == streamStderr && !sub.stderr) {
			continue
		}
		// A client that stops reading must not stall the container for
		// ever, nor the other clients.
		_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write(msg); err != nil {
			c.Close()
			delete(f.subs, c)
		}
	}
}

// drain waits for the output to end. A terminal's master may stay open
// while a process that escaped the wait holds the slave; give it a moment.
func (f *fanout) drain(terminal bool) {
	done := make(chan struct{})
	go func() { f.pumps.Wait(); close(done) }()
	if !terminal {
		<-done
		return
	}
	select {
	case <-done:
	case <-time.After(500 * time.Millisecond):
	}
}

// closeAll ends every client's connection: the output is over.
func (f *fanout) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for c := range f.subs {
		if uc, ok := c.(*net.UnixConn); ok {
			_ = uc.CloseWrite()
		}
		c.Close()
	}
	f.subs = nil
}
