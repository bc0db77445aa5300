package shim

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"time"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/runtime"
)

type execProcess struct {
	proc     *runtime.Supervised
	done     chan struct{}
	exit     Exit
	finished time.Time
}

// finishedExecTTL is how long the exit of an exec nobody waited for is
// kept (a daemon that died before asking).
const finishedExecTTL = 10 * time.Minute

// startExec starts a process in the container and carries its stdio on c
// until its output ends.
func (s *shim) startExec(c net.Conn, br *bufio.Reader, req Request) {
	if req.ExecID == "" || req.Process == nil {
		reply(c, errorResponse(errdefs.Invalid("shim: exec needs an ID and a process")))
		c.Close()
		return
	}
	s.execMu.Lock()
	for id, e := range s.execs {
		if !e.finished.IsZero() && time.Since(e.finished) > finishedExecTTL {
			delete(s.execs, id)
		}
	}
	if _, dup := s.execs[req.ExecID]; dup {
		s.execMu.Unlock()
		reply(c, errorResponse(errdefs.Conflict("exec %s already started", req.ExecID)))
		c.Close()
		return
	}
	e := &execProcess{done: make(chan struct{})}
	s.execs[req.ExecID] = e
	s.execMu.Unlock()

	pio := runtime.ProcessIO{Terminal: req.Terminal}
	var theirs []*os.File
	var outR, errR, stdinW *os.File
	var err error
	if !req.Terminal {
		outR, pio.Stdout, err = os.Pipe()
		if err == nil {
			errR, pio.Stderr, err = os.Pipe()
		}
		if err == nil && req.Stdin {
			pio.Stdin, stdinW, err = os.Pipe()
		}
		theirs = append(theirs, pio.Stdout, pio.Stderr, pio.Stdin)
	}
	if err == nil {
		s.gc.stop() // until the shim settles again
		s.spawnMu.Lock()
		var proc *runtime.Supervised
		proc, err = s.proc.Exec(context.Background(), req.Process, pio)
		s.spawnMu.Unlock()
		s.execMu.Lock() // a resize reads it
		e.proc = proc
		s.execMu.Unlock()
	}
	for _, f := range theirs {
		if f != nil {
			f.Close()
		}
	}
	if err != nil {
		go s.reapStraysSoon()
		for _, f := range []*os.File{outR, errR, stdinW} {
			if f != nil {
				f.Close()
			}
		}
		s.execMu.Lock()
		delete(s.execs, req.ExecID)
		s.execMu.Unlock()
		reply(c, errorResponse(err))
		c.Close()
		return
	}
	reply(c, Response{Pid: e.proc.Pid()})

	out := newFanout(nil, !req.Terminal)
	out.add(c, true, true)
	if req.Terminal {
		master := e.proc.Console()
		setSize(master, uint(req.Width), uint(req.Height))
		// The master is shared by both directions: dup it for the pump,
		// which closes what it reads from.
		readEnd, derr := dupFile(master)
		if derr == nil {
			out.pump(streamStdout, readEnd, nil)
		}
		if req.Stdin {
			go func() { _, _ = io.Copy(master, br) }()
		}
	} else {
		out.pump(streamStdout, outR, nil)
		out.pump(streamStderr, errR, nil)
		if stdinW != nil {
			go func() {
				_, _ = io.Copy(stdinW, br)
				stdinW.Close()
			}()
		}
	}
	go func() {
		code := e.proc.Wait()
		out.drain(req.Terminal)
		out.closeAll()
		if m := e.proc.Console(); m != nil {
			m.Close()
		}
		s.execMu.Lock()
		e.exit = Exit{ExitCode: code}
		e.finished = time.Now()
		s.execMu.Unlock()
		close(e.done)
		// What the exec's start took is garbage once it is over.
		s.scheduleSettle(5*time.Second, 0)
	}()
}

func (s *shim) waitExec(c net.Conn, id string) {
	defer c.Close()
	s.execMu.Lock()
	e := s.execs[id]
	s.execMu.Unlock()
	if e == nil {
		reply(c, errorResponse(errdefs.NotFound("no such exec instance: %s", id)))
		return
	}
	s.responses.Add(1)
	defer s.responses.Done()
	<-e.done
	reply(c, Response{Exit: e.exit})
	// The daemon asks once; an exec's exit is not kept past its answer.
	s.execMu.Lock()
	delete(s.execs, id)
	s.execMu.Unlock()
}

func dupFile(f *os.File) (*os.File, error) {
	fd, err := dupCloexec(int(f.Fd()))
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}
