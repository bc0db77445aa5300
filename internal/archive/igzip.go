package archive

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// isa-l's igzip (Debian's `isal` package) inflates about 2.5 times as fast
// as the Go decoders, and a pull spends its largest layer's inflation on its
// critical path. When it is installed, large gzip layers go through it, as
// containerd and moby hand theirs to unpigz when they find it; without it
// the Go decoder does the work. GANTRY_NO_IGZIP=1 turns it off.

// igzipMinSize is the compressed size below which starting a process costs
// more than it saves.
const igzipMinSize = 4 << 20

var igzipPath = sync.OnceValue(func() string {
	if os.Getenv("GANTRY_NO_IGZIP") != "" {
		return ""
	}
	p, _ := exec.LookPath("igzip")
	return p
})

// DecompressSized is Decompress for a stream whose compressed size is
// known (a pulled layer's descriptor says it): a large gzip stream is
// inflated by igzip when it is installed.
func DecompressSized(r io.Reader, size int64) (io.ReadCloser, Compression, error) {
	if size < igzipMinSize || igzipPath() == "" {
		return Decompress(r)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(len(magicGzip))
	if err != nil || !bytes.HasPrefix(head, magicGzip) {
		return Decompress(br)
	}
	zr, err := newIgzipReader(br)
	if err != nil {
		return Decompress(br) // could not start it: the Go decoder, then
	}
	return zr, Gzip, nil
}

// igzipReader reads what `igzip -d` makes of src, which a goroutine feeds
// it to its end.
type igzipReader struct {
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr *bytes.Buffer
	src    *sourceReader
	fed    chan struct{} // closed when the feeding goroutine is done
	eof    bool          // the output has ended

	once sync.Once
	err  error // the process's end, read once the output is done
}

func newIgzipReader(br *bufio.Reader) (*igzipReader, error) {
	cmd := exec.Command(igzipPath(), "-d", "-c", "-q")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	z := &igzipReader{cmd: cmd, out: out, stderr: &bytes.Buffer{}, src: &sourceReader{r: br}, fed: make(chan struct{})}
	cmd.Stderr = &limitedWriter{w: z.stderr, n: 4096}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(z.fed)
		_, _ = io.Copy(in, z.src) // a source error is kept in src
		in.Close()
	}()
	return z, nil
}

func (z *igzipReader) Read(p []byte) (int, error) {
	if z.eof {
		// Wait closed the pipe: what follows the end is the end again.
		return 0, z.endErr()
	}
	n, err := z.out.Read(p)
	if err == io.EOF {
		z.eof = true
		return n, z.endErr()
	}
	return n, err
}

func (z *igzipReader) endErr() error {
	if err := z.wait(); err != nil {
		return err
	}
	return io.EOF
}

// wait collects the process's end: the source's own error keeps its
// class; anything else igzip refused is invalid gzip.
func (z *igzipReader) wait() error {
	z.once.Do(func() {
		werr := z.cmd.Wait()
		if werr != nil {
			// A source that failed explains it; the feeder, blocked at
			// most in one read, says so promptly.
			select {
			case <-z.fed:
			case <-time.After(100 * time.Millisecond):
			}
		}
		switch {
		case z.src.err != nil:
			z.err = z.src.err
		case werr != nil:
			msg := strings.TrimSpace(z.stderr.String())
			if i := strings.IndexByte(msg, '\n'); i >= 0 {
				msg = msg[:i]
			}
			msg = strings.TrimPrefix(msg, "igzip: ")
			msg = strings.ReplaceAll(msg, " (null)", "")
			if msg == "" {
				msg = werr.Error()
			}
			z.err = errdefs.Invalid("layer is not valid gzip: %s", msg)
		}
	})
	return z.err
}

// Close stops igzip if it is still at work. It does not close the
// source; the feeding goroutine ends at its next read.
func (z *igzipReader) Close() error {
	z.out.Close()
	_ = z.cmd.Process.Kill() // harmless once it has exited and been waited for
	_ = z.wait()             // reported by Read already, or moot: the reader gave up
	return nil
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
