package shim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/atomicfile"
	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/logger"
	"github.com/gantry-dev/gantry/internal/runtime"
)

// Options is what the daemon hands a new shim, as Config.json in its
// directory (the only argument of `gantry shim`).
type Options struct {
	ID          string        `json:"id"`
	Bundle      string        `json:"bundle"`
	RuntimeRoot string        `json:"runtimeRoot"`
	Socket      string        `json:"socket"`
	ExitFile    string        `json:"exitFile"`
	LogPath     string        `json:"logPath"`
	Log         logger.Config `json:"log"`
	Terminal    bool          `json:"terminal,omitempty"`
	OpenStdin   bool          `json:"openStdin,omitempty"`
	StdinOnce   bool          `json:"stdinOnce,omitempty"`
	// ConsoleSize is the terminal's size at start: height, width.
	ConsoleSize [2]uint `json:"consoleSize,omitzero"`
}

// ConfigName is the file in the shim's directory holding its Options.
const ConfigName = "shim.json"

type shim struct {
	o     Options
	dir   string
	code  *os.File // the daemon's copy of the binary, or nil (see releaseCode)
	rt    *runtime.Runtime
	proc  *runtime.Supervised
	log   logger.Writer
	out   *fanout
	stdin *os.File // our end of the container's stdin, nil without -i
	l     net.Listener

	stdinMu   sync.Mutex
	exited    chan struct{}
	exit      Exit
	responses sync.WaitGroup // exec answers in flight when the container exits

	execMu  sync.Mutex
	execs   map[string]*execProcess
	spawnMu sync.Mutex // held while an exec starts (see reapStraysSoon)

	// busy counts what a respawn would cut short: requests being handled
	// and attached clients' input. serve counts a connection before it
	// looks at respawning, so once serve has stopped the count only falls.
	busy       atomic.Int32
	respawning atomic.Bool
	serving    chan struct{} // closed when serve returns
	unread     []net.Conn    // accepted during a respawn, left for the next process

	mu      sync.Mutex // held by a respawn from its check to the exec
	started bool
	exiting bool // the container has exited: it is too late to respawn
	waiters []net.Conn

	settleMu    sync.Mutex
	settleTimer *time.Timer
	gc          quietGC
}

// Main runs a shim from the Options in dir and returns its exit status.
// The readiness report goes to fd 3.
func Main(dir string) int {
	if fd, ok := handedOver(); ok {
		return resume(fd, nil)
	}
	return run(dir, os.NewFile(3, "ready"), nil)
}

// Standby is a shim started ahead of need: it waits on fd 3 (a socket
// pair with the daemon) for the directory of the container to supervise,
// then works as Main, reporting on the same descriptor. A container start
// then does not wait for a process to start and the Go runtime to set up.
func Standby() int {
	code := takeCodeCopy()
	if fd, ok := handedOver(); ok {
		return resume(fd, code)
	}
	setName("shim-standby")
	runtime.Warm()
	ctl := os.NewFile(3, "control")
	var job standbyJob
	if err := json.NewDecoder(ctl).Decode(&job); err != nil {
		return 0 // the daemon went away before needing us
	}
	if f, err := os.OpenFile(job.ErrLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
		_ = unix.Dup3(int(f.Fd()), 2, 0)
		f.Close()
	}
	return run(job.Dir, ctl, code)
}

// standbyJob is what the daemon sends a standby shim.
type standbyJob struct {
	Dir    string `json:"dir"`
	ErrLog string `json:"errLog"`
}

// run supervises the container of dir; code is the daemon's copy of the
// binary, or nil (see releaseCode).
func run(dir string, ready *os.File, code *os.File) int {
	report := func(r Response) {
		if ready != nil {
			_ = json.NewEncoder(ready).Encode(r)
			ready.Close()
			ready = nil
		}
	}
	var o Options
	data, err := os.ReadFile(filepath.Join(dir, ConfigName))
	if err == nil {
		err = json.Unmarshal(data, &o)
	}
	if err != nil {
		report(errorResponse(fmt.Errorf("shim: reading its options: %w", err)))
		return 1
	}
	// ps shows which container a shim serves (comm has 15 characters).
	setName("shim-" + o.ID[:min(10, len(o.ID))])
	s := newShim(o, dir, code)
	// Creating the container runs deep call chains; on a goroutine of its
	// own, the stack they grew is freed when it ends.
	setupDone := make(chan struct{})
	go func() {
		defer close(setupDone)
		err = s.setup()
	}()
	<-setupDone
	if err != nil {
		report(errorResponse(err))
		return 1
	}
	report(Response{Pid: s.proc.Pid()})
	s.scheduleSettle(time.Second, 0)
	s.supervise()
	return 0
}

func newShim(o Options, dir string, code *os.File) *shim {
	return &shim{o: o, dir: dir, code: code, exited: make(chan struct{}), execs: map[string]*execProcess{}}
}

// supervise serves the socket until the container has exited.
func (s *shim) supervise() {
	s.serving = make(chan struct{})
	go s.serve()
	s.waitExit()
}

// setup listens, opens the log and creates the container, whose init then
// waits for "start".
func (s *shim) setup() error {
	// Orphans in the container are ours to reap, not the host's init's.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	rt, err := runtime.New(s.o.RuntimeRoot)
	if err != nil {
		return err
	}
	s.rt = rt
	os.Remove(s.o.Socket)
	l, err := listen(s.o.Socket)
	if err != nil {
		return fmt.Errorf("shim: %w", err)
	}
	fail := func(err error) error {
		l.Close()
		os.Remove(s.o.Socket)
		if s.log != nil {
			s.log.Close()
		}
		return err
	}
	if s.log, err = logger.New(s.o.LogPath, s.o.Log); err != nil {
		return fail(err)
	}
	s.out = newFanout(s.log, !s.o.Terminal)

	pio := runtime.ProcessIO{Terminal: s.o.Terminal}
	var theirs []*os.File
	var outR, errR *os.File
	if !s.o.Terminal {
		if outR, pio.Stdout, err = os.Pipe(); err != nil {
			return fail(err)
		}
		if errR, pio.Stderr, err = os.Pipe(); err != nil {
			return fail(err)
		}
		theirs = append(theirs, pio.Stdout, pio.Stderr)
		if s.o.OpenStdin {
			if pio.Stdin, s.stdin, err = os.Pipe(); err != nil {
				return fail(err)
			}
			theirs = append(theirs, pio.Stdin)
		}
	}
	proc, err := rt.CreateSupervised(context.Background(), s.o.ID, s.o.Bundle, pio)
	for _, f := range theirs {
		f.Close()
	}
	if err != nil {
		return fail(err)
	}
	s.proc = proc
	s.l = l
	if s.o.Terminal {
		setSize(proc.Console(), s.o.ConsoleSize[1], s.o.ConsoleSize[0])
		// Read and written through the poller, so that a respawn can stop
		// the pump (a read deadline).
		master, err := pollable(proc.Console())
		if err != nil {
			_ = proc.Destroy()
			return fail(err)
		}
		if s.o.OpenStdin {
			s.stdin = master
		}
		s.out.pump(streamStdout, master, nil)
	} else {
		s.out.pump(streamStdout, outR, nil)
		s.out.pump(streamStderr, errR, nil)
	}
	return nil
}

// waitExit reaps the container, records how it ended and answers the
// waiters.
func (s *shim) waitExit() {
	// Not reaped before a respawn in progress has run its course: the
	// next process reaps it.
	s.proc.WaitExited()
	s.mu.Lock()
	s.exiting = true
	s.mu.Unlock()
	code := s.proc.Wait()
	exitedAt := time.Now().UTC()
	s.out.drain(s.o.Terminal)
	s.log.Close()
	oom := false
	if m, err := s.proc.CgroupManager(); err == nil {
		if u, err := runtime.ReadUsage(m); err == nil && u.OOMKills > 0 {
			oom = true
		}
	}
	if err := s.proc.Destroy(); err != nil {
		fmt.Fprintf(os.Stderr, "shim %s: deleting the container: %v\n", s.o.ID, err)
	}
	s.exit = Exit{ExitCode: code, ExitedAt: exitedAt, OOMKilled: oom}
	// Written now, made durable once the waiters have their answer: the
	// daemon, told first, records the exit itself.
	exitWritten := writeExitFile(s.o.ExitFile, s.exit)
	if exitWritten != nil {
		fmt.Fprintf(os.Stderr, "shim %s: %v\n", s.o.ID, exitWritten)
	}
	// The socket goes before anyone learns of the exit: the daemon may
	// start the container again at once, with a new shim at this path.
	// Clients already connected get their answers; later ones find no
	// socket and read the exit file.
	s.l.Close()
	os.Remove(s.o.Socket)
	s.mu.Lock()
	close(s.exited)
	waiters := s.waiters
	s.waiters = nil
	s.mu.Unlock()
	for _, c := range waiters {
		_ = reply(c, Response{Exit: s.exit})
		c.Close()
	}
	s.out.closeAll()
	if exitWritten == nil {
		if err := atomicfile.Sync(s.o.ExitFile); err != nil {
			fmt.Fprintf(os.Stderr, "shim %s: %v\n", s.o.ID, err)
		}
	}
	s.responses.Wait()
}

func (s *shim) serve() {
	defer close(s.serving)
	for {
		c, err := s.l.Accept()
		if err != nil {
			// A respawn stops the loop with a deadline.
			if s.respawning.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // out of descriptors, say
			continue
		}
		s.busy.Add(1)
		if s.respawning.Load() {
			s.busy.Add(-1)
			s.unread = append(s.unread, c)
			continue
		}
		go s.handle(c)
	}
}

// handle answers one connection; serve counted it busy.
func (s *shim) handle(c net.Conn) {
	defer s.gc.touched()
	defer s.busy.Add(-1)
	br := bufio.NewReader(c)
	line, err := br.ReadBytes('\n')
	if err != nil {
		c.Close()
		return
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		reply(c, errorResponse(errdefs.Invalid("shim: bad request: %v", err)))
		c.Close()
		return
	}
	switch req.Op {
	case "start":
		if err := s.proc.Start(); err != nil {
			reply(c, errorResponse(err))
		} else {
			s.mu.Lock()
			s.started = true
			s.mu.Unlock()
			reply(c, Response{Pid: s.proc.Pid()})
		}
		c.Close()
	case "wait":
		// Answered by waitExit; a respawn hands the connection over.
		s.mu.Lock()
		select {
		case <-s.exited:
			s.mu.Unlock()
			reply(c, Response{Exit: s.exit})
			c.Close()
		default:
			s.waiters = append(s.waiters, c)
			s.mu.Unlock()
		}
	case "attach":
		s.attach(c, br, req)
	case "exec":
		s.startExec(c, br, req)
	case "execWait":
		s.waitExec(c, req.ExecID)
	case "kill":
		if err := s.proc.Kill(unix.Signal(req.Signal), req.All); err != nil {
			reply(c, errorResponse(err))
		} else {
			reply(c, Response{})
		}
		c.Close()
	case "resize":
		err := s.resize(req)
		if err != nil {
			reply(c, errorResponse(err))
		} else {
			reply(c, Response{})
		}
		c.Close()
	default:
		reply(c, errorResponse(errdefs.Invalid("shim: unknown op %q", req.Op)))
		c.Close()
	}
}

func (s *shim) attach(c net.Conn, br *bufio.Reader, req Request) {
	select {
	case <-s.exited:
		reply(c, errorResponse(errdefs.Conflict("container %s is not running", s.o.ID)))
		c.Close()
		return
	default:
	}
	// The client is subscribed before it learns it is attached: it may
	// start the container right after, and no output may come before.
	if err := s.out.addReplying(c, req.Stdout || req.Stderr, req.Stdout, req.Stderr, func() error {
		return reply(c, Response{Pid: s.proc.Pid()})
	}); err != nil {
		c.Close()
		return
	}
	if req.Stdin && s.stdin != nil {
		s.busy.Add(1)
		go func() {
			defer s.busy.Add(-1)
			_, _ = io.Copy(s.stdin, br)
			// Docker's StdinOnce: the first attached client to end its
			// input closes the container's.
			if s.o.StdinOnce && !s.o.Terminal {
				s.stdinMu.Lock()
				s.stdin.Close()
				s.stdinMu.Unlock()
			}
		}()
	}
	if !req.Stdout && !req.Stderr {
		// Only stdin: the connection lives until the container exits.
		s.busy.Add(1)
		go func() {
			defer s.busy.Add(-1)
			<-s.exited
			c.Close()
		}()
	}
}

func (s *shim) resize(req Request) error {
	var master *os.File
	if req.ExecID == "" {
		master = s.proc.Console()
	} else {
		s.execMu.Lock()
		e := s.execs[req.ExecID]
		var proc *runtime.Supervised
		if e != nil {
			proc = e.proc
		}
		s.execMu.Unlock()
		if e == nil {
			return errdefs.NotFound("no such exec instance: %s", req.ExecID)
		}
		if proc == nil {
			return errdefs.Conflict("exec %s is still starting", req.ExecID)
		}
		master = proc.Console()
	}
	if master == nil {
		return errdefs.Conflict("the process has no terminal to resize")
	}
	return unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: req.Height, Col: req.Width})
}

// setSize gives a new terminal its size before the process reads it.
func setSize(master *os.File, width, height uint) {
	if master == nil || width == 0 || height == 0 {
		return
	}
	_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(height), Col: uint16(width)})
}

func reply(c net.Conn, r Response) error {
	data, _ := json.Marshal(r)
	_, err := c.Write(append(data, '\n'))
	return err
}

func errorResponse(err error) Response {
	class := ""
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		class = "notfound"
	case errors.Is(err, errdefs.ErrConflict):
		class = "conflict"
	case errors.Is(err, errdefs.ErrInvalid):
		class = "invalid"
	case errors.Is(err, errdefs.ErrUnavailable):
		class = "unavailable"
	case errors.Is(err, errdefs.ErrForbidden):
		class = "forbidden"
	}
	return Response{Error: err.Error(), Class: class}
}

// writeExitFile records the exit atomically: a reader sees all of it or
// nothing. It is not yet on disk (atomicfile.Sync).
func writeExitFile(path string, e Exit) error {
	data, _ := json.Marshal(e)
	return atomicfile.WriteUnsynced(path, data, 0o600)
}

// ReadExitFile reads an exit the shim recorded.
func ReadExitFile(path string) (Exit, error) {
	var e Exit
	data, err := os.ReadFile(path)
	if err != nil {
		return e, err
	}
	return e, json.Unmarshal(data, &e)
}
