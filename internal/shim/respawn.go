package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/logger"
	"github.com/gantry-dev/gantry/internal/runtime"
)

// A shim respawns once its container runs: it executes itself again and
// hands the new process everything
// it holds (the listening socket, the container's output and input, the
// daemon's waiting connections) through descriptors execve keeps. The
// container's init stays its child: execve keeps the process and its
// children.
//
// Why: creating the container (libcontainer, the OCI spec, its JSON)
// leaves the heap fragmented and the runtime's own tables sized for it,
// over a megabyte that a garbage collection cannot give back. The new
// process holds only what supervising needs.
//
// A respawn happens only when nothing is under way that it would cut
// short: no request being answered, no client attached, no exec running.
// Otherwise the shim tries again later.

// handoffEnv names the descriptor of the handoff in the new process.
const handoffEnv = "GANTRY_SHIM_HANDOFF"

var errBusy = errors.New("shim: busy")

// handoff is what a shim passes to the process it respawns into, as JSON
// in a memfd. Numbers are descriptors, the same in both processes.
type handoff struct {
	Dir      string          `json:"dir"`
	Pid      int             `json:"pid"`
	Listener int             `json:"listener"`
	Output   []outputHandoff `json:"output,omitempty"`
	Stdin    int             `json:"stdin"` // -1: none
	Waiters  []int           `json:"waiters,omitempty"`
	Unread   []int           `json:"unread,omitempty"`
	Execs    map[string]Exit `json:"execs,omitempty"` // finished, not yet waited for
}

// outputHandoff is one of the container's output streams (with a
// terminal, its master) and the start of a line not logged yet.
type outputHandoff struct {
	Stream  byte   `json:"stream"`
	Fd      int    `json:"fd"`
	Pending []byte `json:"pending,omitempty"`
}

// respawnRetries are the waits between attempts at a busy shim; a
// finished exec starts them again.
var respawnRetries = []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute}

// errNoCopy: without the daemon's copy of the binary a shim cannot map
// its code page by page, and does not respawn.
var errNoCopy = errors.New("no copy of the binary")

// scheduleSettle has the shim settle after d (attempt n), in place of a
// settle scheduled before.
func (s *shim) scheduleSettle(d time.Duration, n int) {
	s.settleMu.Lock()
	defer s.settleMu.Unlock()
	if s.settleTimer != nil {
		s.settleTimer.Stop()
	}
	s.settleTimer = time.AfterFunc(d, func() { s.settle(n) })
}

// settle runs once the shim has been quiet for a while: after its
// container's start, after an exec. It respawns, or failing that gives
// back what it can in place and tries again later.
func (s *shim) settle(n int) {
	err := errNoCopy
	if s.code != nil {
		err = s.respawn() // returns only if it did not happen
	}
	if n == 0 {
		// The garbage of the work just done: creating the container,
		// running an exec.
		debug.FreeOSMemory()
		s.gc.start(releaseCode(s.code))
	}
	switch {
	case errors.Is(err, errBusy):
		if n < len(respawnRetries) {
			s.scheduleSettle(respawnRetries[n], n+1)
		}
	case errors.Is(err, errNoCopy):
	default:
		fmt.Fprintf(os.Stderr, "shim %s: %v\n", s.o.ID, err)
	}
}

// quiet says whether a respawn would cut nothing short. The caller holds
// s.mu.
func (s *shim) quiet() bool {
	if s.exiting || !s.started || s.busy.Load() != 0 || s.out.attached() {
		return false
	}
	s.execMu.Lock()
	defer s.execMu.Unlock()
	for _, e := range s.execs {
		select {
		case <-e.done:
		default:
			return false
		}
	}
	return true
}

// respawn executes the shim again with its state handed over. It returns
// only if that did not happen; the shim then goes on as before.
func (s *shim) respawn() error {
	// Held until the exec: the container's exit waits (waitExit).
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.quiet() {
		return errBusy
	}
	ul, ok := s.l.(*net.UnixListener)
	if !ok {
		return fmt.Errorf("shim: respawning: the socket is a %T", s.l)
	}
	s.respawning.Store(true)
	_ = ul.SetDeadline(time.Unix(1, 0))
	<-s.serving
	resume := func() {
		_ = ul.SetDeadline(time.Time{})
		s.respawning.Store(false)
		unread := s.unread
		s.unread = nil
		s.serving = make(chan struct{})
		go s.serve()
		for _, c := range unread {
			s.busy.Add(1)
			go s.handle(c)
		}
	}
	// A request accepted before serve stopped may still be running.
	if !s.quiet() {
		resume()
		return errBusy
	}
	stopped, err := s.out.stop()
	if err != nil {
		resume()
		return fmt.Errorf("shim: respawning: %w", err)
	}
	// Closed for its background work (compressing a rotated file) to end.
	_ = s.log.Close()
	err = s.execHandoff(stopped)
	var lerr error
	if s.log, lerr = logger.New(s.o.LogPath, s.o.Log); lerr != nil {
		fmt.Fprintf(os.Stderr, "shim %s: reopening the log: %v\n", s.o.ID, lerr)
		s.log, _ = logger.New("", logger.Config{Driver: logger.None})
	}
	s.out.log = s.log
	s.out.restart(stopped)
	resume()
	return err
}

// execHandoff executes the binary's copy with the handoff; it returns only
// on failure, with every descriptor as it was.
func (s *shim) execHandoff(stopped []stoppedPump) error {
	h := handoff{Dir: s.dir, Pid: s.proc.Pid(), Stdin: -1, Execs: map[string]Exit{}}
	var fds []int
	add := func(c syscall.Conn) (int, error) {
		fd, err := fdOf(c)
		if err == nil {
			fds = append(fds, fd)
		}
		return fd, err
	}
	var err error
	if h.Listener, err = add(s.l.(syscall.Conn)); err != nil {
		return err
	}
	for _, p := range stopped {
		fd, err := add(p.r)
		if err != nil {
			return err
		}
		h.Output = append(h.Output, outputHandoff{Stream: p.stream, Fd: fd, Pending: p.pending})
	}
	if s.stdin != nil {
		s.stdinMu.Lock()
		fd, err := add(s.stdin) // fails once StdinOnce closed it
		s.stdinMu.Unlock()
		if err == nil {
			h.Stdin = fd
		}
	}
	for _, c := range s.waiters {
		fd, err := add(c.(syscall.Conn))
		if err != nil {
			return err
		}
		h.Waiters = append(h.Waiters, fd)
	}
	for _, c := range s.unread {
		fd, err := add(c.(syscall.Conn))
		if err != nil {
			return err
		}
		h.Unread = append(h.Unread, fd)
	}
	s.execMu.Lock()
	for id, e := range s.execs {
		h.Execs[id] = e.exit
	}
	s.execMu.Unlock()
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	mfd, err := unix.MemfdCreate("shim-handoff", 0)
	if err != nil {
		return err
	}
	defer unix.Close(mfd)
	if _, err := unix.Pwrite(mfd, data, 0); err != nil {
		return err
	}
	code := int(s.code.Fd())
	fds = append(fds, code)
	for _, fd := range fds {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return err
		}
	}
	env := append(os.Environ(), handoffEnv+"="+strconv.Itoa(mfd))
	// The binary itself, not the copy: the new process starts with its code
	// mapped 2 MB at a time and then maps it from the copy (releaseCode),
	// and the inits of the execs it runs start from it too (libcontainer
	// clones /proc/self/exe for them, keeping its page cache; a copy in
	// memory starts them 10 ms slower here).
	err = syscall.Exec("/proc/self/exe", os.Args, env)
	for _, fd := range fds {
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
	}
	return fmt.Errorf("shim: respawning: %w", err)
}

// fdOf is c's descriptor, without the dup that File would make.
func fdOf(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return -1, err
	}
	return fd, nil
}

// handedOver tells a shim's start whether it is the process a shim
// respawned into, and takes the handoff's descriptor from the environment
// (the container's processes must not see it).
func handedOver() (int, bool) {
	v, ok := os.LookupEnv(handoffEnv)
	if !ok {
		return -1, false
	}
	os.Unsetenv(handoffEnv)
	fd, err := strconv.Atoi(v)
	return fd, err == nil && fd >= 0
}

// resume supervises the container a shim handed over; it returns the
// shim's exit status.
func resume(handoffFd int, code *os.File) int {
	f := os.NewFile(uintptr(handoffFd), "shim-handoff")
	data, err := io.ReadAll(f)
	f.Close()
	var h handoff
	if err == nil {
		err = json.Unmarshal(data, &h)
	}
	var o Options
	if err == nil {
		if data, err = os.ReadFile(filepath.Join(h.Dir, ConfigName)); err == nil {
			err = json.Unmarshal(data, &o)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "shim: taking over from the respawn: %v\n", err)
		return 1
	}
	setName("shim-" + o.ID[:min(10, len(o.ID))])
	s := newShim(o, h.Dir, code)
	s.started = true
	if s.rt, err = runtime.New(o.RuntimeRoot); err != nil {
		fmt.Fprintf(os.Stderr, "shim %s: %v\n", o.ID, err)
		return 1
	}
	files := map[int]*os.File{}
	file := func(fd int) *os.File {
		if f, ok := files[fd]; ok {
			return f
		}
		unix.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), "fd"+strconv.Itoa(fd))
		files[fd] = f
		return f
	}
	conn := func(fd int) net.Conn {
		f := file(fd)
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "shim %s: a connection: %v\n", o.ID, err)
		}
		return c
	}
	lf := file(h.Listener)
	s.l, err = net.FileListener(lf)
	lf.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "shim %s: the socket: %v\n", o.ID, err)
		return 1
	}
	if s.log, err = logger.New(o.LogPath, o.Log); err != nil {
		fmt.Fprintf(os.Stderr, "shim %s: reopening the log: %v\n", o.ID, err)
		s.log, _ = logger.New("", logger.Config{Driver: logger.None})
	}
	s.out = newFanout(s.log, !o.Terminal)
	var master *os.File
	for _, p := range h.Output {
		r := file(p.Fd)
		if o.Terminal {
			master = r
		}
		s.out.pump(p.Stream, r, p.Pending)
	}
	if h.Stdin >= 0 {
		s.stdin = file(h.Stdin)
	}
	s.proc = s.rt.Adopt(o.ID, h.Pid, master)
	for _, fd := range h.Waiters {
		if c := conn(fd); c != nil {
			s.waiters = append(s.waiters, c)
		}
	}
	for id, exit := range h.Execs {
		e := &execProcess{done: make(chan struct{}), exit: exit, finished: time.Now()}
		close(e.done)
		s.execs[id] = e
	}
	for _, fd := range h.Unread {
		if c := conn(fd); c != nil {
			s.busy.Add(1)
			go s.handle(c)
		}
	}
	// What a failed exec left for the previous process to reap, if it
	// respawned before it had.
	reapStrays()
	debug.FreeOSMemory()
	s.gc.start(releaseCode(code))
	s.supervise()
	return 0
}

// pollable returns a duplicate of f read and written through the runtime's
// poller, which deadlines need. f stays open (and non-blocking now, as the
// duplicate shares its flags): fit for ioctls, not for reads and writes.
func pollable(f *os.File) (*os.File, error) {
	fd, err := dupCloexec(int(f.Fd()))
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}
