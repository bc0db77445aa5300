package container

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/runtime"
	"github.com/gantry-dev/gantry/internal/shim"
)

// execRecord is an exec instance: created, then started once.
type execRecord struct {
	id          string
	containerID string
	cfg         container.ExecCreateRequest
	created     time.Time

	mu       sync.Mutex
	started  bool
	running  bool
	exitCode *int
	pid      int
	ready    chan struct{} // closed once the shim has started it, or failed to
	done     chan struct{}
}

// ExecCreate registers a process to run in a running container.
func (s *Service) ExecCreate(ctx context.Context, ref string, cfg container.ExecCreateRequest) (string, error) {
	e, err := s.lookup(ref)
	if err != nil {
		return "", err
	}
	if len(cfg.Cmd) == 0 {
		return "", errdefs.Invalid("No exec command specified")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.rec.State.Status {
	case container.StateRunning:
	case container.StatePaused:
		return "", errdefs.Conflict("container %s is paused, unpause the container before exec", e.rec.ID)
	default:
		return "", errdefs.Conflict("container %s is not running", e.rec.ID)
	}
	x := &execRecord{id: newID(), containerID: e.rec.ID, cfg: cfg, created: time.Now(), ready: make(chan struct{}), done: make(chan struct{})}
	e.execs[x.id] = x
	s.mu.Lock()
	s.execs[x.id] = x
	s.mu.Unlock()
	s.publish(eventAction("exec_create: "+strings.Join(cfg.Cmd, " ")), &e.rec, map[string]string{"execID": x.id})
	return x.id, nil
}

func (s *Service) execByID(id string) (*execRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	x, ok := s.execs[id]
	if !ok {
		return nil, errdefs.NotFound("No such exec instance: %s", id)
	}
	return x, nil
}

// ExecStart starts an exec. Attached, it returns its stdio stream (frames
// unless it has a terminal) and a function that waits for its exit; the
// caller copies the stream and then calls it. Detached, both are nil and
// the exit is recorded in the background.
//
// answer, when not nil, is called once the exec is known to be startable
// and before its process starts: the API answers the client then, as
// Docker does, so that no output travels with the answer's headers (a
// client that reads those through a buffer and the stream from the socket,
// docker-py, loses what came with them). Once answer has succeeded, a
// failure to start comes as the stream's text, never as err.
func (s *Service) ExecStart(ctx context.Context, id string, detach bool, answer func(tty bool) error) (stream io.ReadWriteCloser, tty bool, wait func(), err error) {
	x, err := s.execByID(id)
	if err != nil {
		return nil, false, nil, err
	}
	x.mu.Lock()
	if x.started {
		x.mu.Unlock()
		return nil, false, nil, errdefs.Conflict("Error: Exec command %s is already running", id)
	}
	x.started = true
	x.mu.Unlock()
	e, err := s.lookup(x.containerID)
	if err != nil {
		return nil, false, nil, err
	}
	e.mu.Lock()
	if e.rec.State.Status != container.StateRunning {
		e.mu.Unlock()
		return nil, false, nil, errdefs.Conflict("container %s is not running", e.rec.ID)
	}
	proc, perr := s.execProcess(&e.rec, &x.cfg)
	rec := e.rec
	e.mu.Unlock()
	if perr != nil {
		return nil, false, nil, perr
	}
	// The exec joins the container's cgroups as it starts.
	defer runtime.KeepMigrationsFast()()
	if answer != nil {
		if err := answer(x.cfg.Tty); err != nil {
			x.mu.Lock()
			x.started = false // nothing ran: it may be started again
			x.mu.Unlock()
			return nil, false, nil, err
		}
	}
	client := shim.NewClient(s.socketPath(rec.ID))
	req := shim.Request{ExecID: id, Process: proc, Terminal: x.cfg.Tty, Stdin: x.cfg.AttachStdin && !detach}
	if cs := x.cfg.ConsoleSize; cs != nil {
		req.Height, req.Width = uint16(cs[0]), uint16(cs[1])
	}
	st, pid, err := client.Exec(ctx, req)
	close(x.ready)
	if err != nil {
		// Docker reports a program that cannot run in the exec's output
		// and exit code (126/127), not as a failed request.
		err = dockerStartError(err)
		code := exitCodeOf(err)
		x.mu.Lock()
		x.exitCode = &code
		x.mu.Unlock()
		close(x.done)
		if detach {
			return nil, x.cfg.Tty, nil, err
		}
		return errorStream(err, x.cfg.Tty), x.cfg.Tty, func() {}, nil
	}
	x.mu.Lock()
	x.running, x.pid = true, pid
	x.mu.Unlock()
	s.publish(eventAction("exec_start: "+strings.Join(x.cfg.Cmd, " ")), &rec, map[string]string{"execID": id})
	finish := func() {
		exit, err := client.ExecWait(context.Background(), id)
		code := exit.ExitCode
		if err != nil {
			code = 255
		}
		x.mu.Lock()
		x.running = false
		x.exitCode = &code
		x.mu.Unlock()
		close(x.done)
		s.publish("exec_die", &rec, map[string]string{"execID": id, "exitCode": fmt.Sprint(code)})
	}
	if detach {
		go func() {
			_, _ = io.Copy(io.Discard, st)
			st.Close()
			finish()
		}()
		return nil, x.cfg.Tty, nil, nil
	}
	return st, x.cfg.Tty, finish, nil
}

// execProcess builds the exec's process from the container's: its
// environment plus the exec's, its user unless overridden.
func (s *Service) execProcess(rec *Record, cfg *container.ExecCreateRequest) (*specProcess, error) {
	rootfs := filepath.Join(s.bundleDir(rec.ID), "rootfs")
	// The container's own process, as its start wrote it: building the
	// spec again (seccomp profile and all) would only cost time.
	var spec specs.Spec
	data, err := os.ReadFile(filepath.Join(s.bundleDir(rec.ID), runtime.ConfigFile))
	if err == nil {
		err = json.Unmarshal(data, &spec)
	}
	if err != nil || spec.Process == nil {
		built, berr := s.buildSpec(rec, rootfs)
		if berr != nil {
			return nil, berr
		}
		spec = *built
	}
	p := spec.Process
	p.Args = slices.Clone(cfg.Cmd)
	p.Env = mergeEnv(p.Env, cfg.Env)
	p.Terminal = cfg.Tty
	if cfg.WorkingDir != "" {
		p.Cwd = cfg.WorkingDir
	}
	if cfg.User != "" {
		u, err := resolveUser(rootfs, cfg.User, nil)
		if err != nil {
			return nil, err
		}
		p.User = u
	}
	if cfg.Privileged {
		hc := *rec.HostConfig
		hc.Privileged = true
		caps, _ := capabilities(&hc)
		p.Capabilities.Bounding, p.Capabilities.Effective, p.Capabilities.Permitted = caps, caps, caps
	}
	if p.User.UID != 0 {
		p.Capabilities.Effective, p.Capabilities.Permitted = nil, nil
	} else if len(p.Capabilities.Effective) == 0 {
		p.Capabilities.Effective, p.Capabilities.Permitted = p.Capabilities.Bounding, p.Capabilities.Bounding
	}
	return p, nil
}

// errorStream is an exec's output that is only the error that kept it
// from running, on stderr.
func errorStream(err error, tty bool) io.ReadWriteCloser {
	msg := []byte(err.Error() + "\n")
	if !tty {
		hdr := make([]byte, 8)
		hdr[0] = 2
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(msg)))
		msg = append(hdr, msg...)
	}
	return &readOnly{r: strings.NewReader(string(msg))}
}

type readOnly struct{ r io.Reader }

func (r *readOnly) Read(p []byte) (int, error)  { return r.r.Read(p) }
func (r *readOnly) Write(p []byte) (int, error) { return len(p), nil }
func (r *readOnly) Close() error                { return nil }

// ExecInspect describes an exec.
func (s *Service) ExecInspect(ctx context.Context, id string) (*container.ExecInspectResponse, error) {
	x, err := s.execByID(id)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	privileged := x.cfg.Privileged
	return &container.ExecInspectResponse{
		ID:        x.id,
		Running:   x.running,
		ExitCode:  x.exitCode,
		OpenStdin: x.cfg.AttachStdin, OpenStdout: x.cfg.AttachStdout, OpenStderr: x.cfg.AttachStderr,
		ContainerID: x.containerID,
		Pid:         x.pid,
		ProcessConfig: &container.ExecProcessConfig{
			Tty: x.cfg.Tty, Entrypoint: x.cfg.Cmd[0], Arguments: x.cfg.Cmd[1:], Privileged: &privileged, User: x.cfg.User,
		},
	}, nil
}

// ExecResize resizes an exec's terminal.
func (s *Service) ExecResize(ctx context.Context, id string, height, width uint16) error {
	x, err := s.execByID(id)
	if err != nil {
		return err
	}
	// A client resizes right after its start's answer, which comes before
	// the process starts (ExecStart): wait for it, as Docker does.
	select {
	case <-x.ready:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
		return errdefs.Conflict("timeout waiting for exec session ready")
	}
	return shim.NewClient(s.socketPath(x.containerID)).Resize(ctx, id, width, height)
}
