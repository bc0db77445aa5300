package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/logger"
	"github.com/gantry-dev/gantry/internal/mount"
	"github.com/gantry-dev/gantry/internal/runtime"
	"github.com/gantry-dev/gantry/internal/shim"
)

// ErrNotModified is a start of a running container (Docker answers 304).
var ErrNotModified = errors.New("container already started")

// Start runs a created or exited container through a new shim. Attach
// requests made before the start are connected before the process runs.
func (s *Service) Start(ctx context.Context, ref string) error {
	e, err := s.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	err = s.startLocked(ctx, e)
	autoRemove := e.rec.HostConfig.AutoRemove && err != nil && err != ErrNotModified && !e.rec.State.Running()
	e.mu.Unlock()
	if autoRemove {
		// As Docker: a --rm container that cannot start is removed, which
		// also ends a client's wait for its removal.
		if rerr := s.Remove(context.Background(), e.rec.ID, RemoveOptions{Force: true, Volumes: true}); rerr != nil {
			s.log.Warn("removing a container that failed to start", "id", e.rec.ID, "err", rerr)
		}
	}
	return err
}

func (s *Service) startLocked(ctx context.Context, e *entry) error {
	rec := &e.rec
	switch rec.State.Status {
	case container.StateRunning:
		return ErrNotModified
	case container.StatePaused:
		return errdefs.Conflict("cannot start a paused container, try unpause instead")
	case container.StateRemoving, container.StateDead:
		return errdefs.Conflict("container is marked for removal and cannot be started")
	}
	select {
	case <-e.removed:
		return errdefs.NotFound("No such container: %s", rec.ID)
	default:
	}
	bundle := s.bundleDir(rec.ID)
	rootfs := filepath.Join(bundle, "rootfs")
	cleanup := func() {
		s.releaseMounts(rec)
		_ = mount.Unmount(context.Background(), rootfs)
		_ = os.RemoveAll(bundle)
		s.detachNetwork(rec)
	}
	e.rootfsLeft = false // launch takes down what an earlier exit left
	// The init joins its cgroups at the end of launch.
	fastMigrations := runtime.KeepMigrationsFast()
	pid, err := s.launch(ctx, rec, bundle, rootfs)
	fastMigrations()
	if err != nil {
		cleanup()
		s.attachFailed(e, err)
		rec.State.Error = err.Error()
		rec.State.ExitCode = exitCodeOf(err)
		_ = s.persist(e)
		return err
	}
	client := shim.NewClient(s.socketPath(rec.ID))
	s.connectAttachers(e, client)
	s.awaitRestartDelay(e)
	t1 := time.Now()
	err = rec.Network.Wait() // the process finds its network ready
	if err == nil {
		err = client.Start(ctx)
	}
	s.log.Debug("shim start", "t", time.Since(t1))
	if err != nil {
		_ = s.rt.Kill(context.Background(), rec.ID, 9, true)
		_, _ = client.Wait(context.Background())
		cleanup()
		err = dockerStartError(err)
		rec.State.Error = err.Error()
		rec.State.ExitCode = exitCodeOf(err)
		_ = s.persist(e)
		return err
	}
	rec.State = State{Status: container.StateRunning, Pid: pid, StartedAt: time.Now().UTC()}
	rec.ManualStop = false
	if err := s.persist(e); err != nil {
		return err
	}
	s.publish("start", rec, nil)
	go s.monitor(e)
	return nil
}

// launch mounts the root filesystem, writes the bundle and starts the
// shim, which creates the container.
func (s *Service) launch(ctx context.Context, rec *Record, bundle, rootfs string) (int, error) {
	t0 := time.Now()
	defer func() { s.log.Debug("launch", "total", time.Since(t0)) }()
	// A start that crashed half-way: its root filesystem must not be
	// mounted when the bundle is deleted.
	_ = mount.Unmount(ctx, rootfs)
	_ = os.RemoveAll(bundle)
	// The last run's exit: the new one is read from here, possibly before
	// the start has returned.
	os.Remove(s.exitFile(rec.ID))
	if err := os.MkdirAll(rootfs, 0o700); err != nil {
		return 0, err
	}
	ms, err := s.snaps.Mounts(ctx, rec.ID)
	if err != nil {
		return 0, err
	}
	if err := mount.All(ctx, ms, rootfs); err != nil {
		return 0, err
	}
	s.log.Debug("mounted", "t", time.Since(t0))
	if err := s.prepareMounts(ctx, rec, rootfs); err != nil {
		return 0, err
	}
	if err := s.attachNetwork(ctx, rec); err != nil {
		return 0, err
	}
	s.log.Debug("network attached", "t", time.Since(t0))
	spec, err := s.buildSpec(rec, rootfs)
	if err != nil {
		return 0, err
	}
	s.log.Debug("spec built", "t", time.Since(t0))
	if err := ensureWorkdir(rootfs, spec.Process.Cwd, spec.Process.User.UID, spec.Process.User.GID); err != nil {
		return 0, err
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(bundle, runtime.ConfigFile), data, 0o600); err != nil {
		return 0, err
	}
	dir := s.containerDir(rec.ID)
	pid, err := s.shims.Launch(ctx, bundle, filepath.Join(dir, "shim.log"), shim.Options{
		ID:          rec.ID,
		Bundle:      bundle,
		RuntimeRoot: s.rt.Root(),
		Socket:      s.socketPath(rec.ID),
		ExitFile:    s.exitFile(rec.ID),
		LogPath:     logger.Path(dir, rec.ID, logConfig(rec)),
		Log:         logConfig(rec),
		Terminal:    rec.Config.Tty,
		OpenStdin:   rec.Config.OpenStdin,
		StdinOnce:   rec.Config.StdinOnce,
		ConsoleSize: rec.HostConfig.ConsoleSize,
	})
	s.log.Debug("shim launched", "t", time.Since(t0))
	if err != nil {
		return 0, dockerStartError(err)
	}
	return pid, nil
}

// releaseRootfs unmounts a container's root filesystem and deletes its
// bundle.
func (s *Service) releaseRootfs(id string) {
	bundle := s.bundleDir(id)
	if err := mount.Unmount(context.Background(), filepath.Join(bundle, "rootfs")); err != nil {
		s.log.Warn("unmounting a container's root filesystem", "id", id, "err", err)
	}
	_ = os.RemoveAll(bundle)
}

func logConfig(rec *Record) logger.Config {
	return logger.Config{Driver: rec.HostConfig.LogConfig.Type, Opts: rec.HostConfig.LogConfig.Config}
}

// ensureWorkdir creates a missing working directory, as Docker does,
// inside the root filesystem only.
func ensureWorkdir(rootfs, cwd string, uid, gid uint32) error {
	if cwd == "/" {
		return nil
	}
	f, err := openInRoot(rootfs, cwd)
	if err == nil {
		f.Close()
		return nil
	}
	// Walk down from the root, creating what is missing, each step
	// resolved inside the root.
	parts := strings.Split(strings.Trim(filepath.Clean(cwd), "/"), "/")
	cur := "/"
	for _, p := range parts {
		next := filepath.Join(cur, p)
		if !existsDirInRoot(rootfs, next) {
			parent, err := openDirInRoot(rootfs, cur)
			if err != nil {
				return fmt.Errorf("creating the working directory %s: %w", cwd, err)
			}
			err = mkdirat(parent, p, uid, gid)
			parent.Close()
			if err != nil {
				return fmt.Errorf("creating the working directory %s: %w", cwd, err)
			}
		}
		cur = next
	}
	return nil
}

// dockerStartError says a failed start the way Docker does, so clients
// that look for its phrases (the docker CLI's exit codes 126 and 127) work.
func dockerStartError(err error) error {
	msg := err.Error()
	i := strings.Index(msg, "exec: \"")
	if i < 0 {
		return err
	}
	prog, _, _ := strings.Cut(msg[i+len("exec: \""):], "\"")
	var detail string
	switch {
	case strings.Contains(msg, "executable file not found"):
		detail = fmt.Sprintf("exec: %q: executable file not found in $PATH", prog)
	case strings.Contains(msg, "no such file"):
		detail = fmt.Sprintf("exec: %q: stat %s: no such file or directory", prog, prog)
	case strings.Contains(msg, "permission denied"):
		detail = fmt.Sprintf("exec: %q: permission denied", prog)
	default:
		return err
	}
	return errdefs.Invalid("failed to create task for container: OCI runtime create failed: unable to start container process: %s", detail)
}

func exitCodeOf(err error) int {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return 127
	case strings.Contains(msg, "permission denied"):
		return 126
	}
	return 128
}

// monitor waits for the container's exit through its shim.
func (s *Service) monitor(e *entry) {
	stopHealth := s.watchHealth(e)
	client := shim.NewClient(s.socketPath(e.rec.ID))
	exit, err := client.Wait(s.ctx)
	stopHealth()
	if s.ctx.Err() != nil {
		return // the daemon is stopping; the next one picks it up
	}
	if err != nil {
		var rerr error
		exit, rerr = shim.ReadExitFile(s.exitFile(e.rec.ID))
		if rerr != nil {
			s.log.Warn("container's shim vanished without an exit record", "id", e.rec.ID, "err", err)
			exit.ExitCode = 255
		}
	}
	e.mu.Lock()
	wasRunning := e.rec.State.Running()
	s.exitedWith(e, exit)
	if wasRunning {
		s.restartAfterExit(e, e.rec.State.FinishedAt.Sub(e.rec.State.StartedAt))
	}
	autoRemove := e.rec.HostConfig.AutoRemove
	e.mu.Unlock()
	if autoRemove {
		if err := s.Remove(context.Background(), e.rec.ID, RemoveOptions{Force: true, Volumes: true}); err != nil {
			s.log.Warn("auto-remove failed", "id", e.rec.ID, "err", err)
		}
	}
}

// exitedWith records an exit and releases the root filesystem; the caller
// holds e.mu (or owns e alone, during restore).
func (s *Service) exitedWith(e *entry, exit shim.Exit) {
	rec := &e.rec
	if !rec.State.Running() {
		return
	}
	if exit.ExitedAt.IsZero() {
		exit.ExitedAt = time.Now().UTC()
	}
	rec.State.Status = container.StateExited
	rec.State.Pid = 0
	rec.State.ExitCode = exit.ExitCode
	rec.State.OOMKilled = exit.OOMKilled
	rec.State.FinishedAt = exit.ExitedAt
	// An exit caused by rm -f, or of a --rm container, leaves the root
	// filesystem to the removal that follows, which takes it down in the
	// background (unmounting an overlay waits for its upper file system to
	// sync), and is recorded without waiting for the disk: the record is
	// removed next, and a crash in between leaves a record that says
	// running, whose missing shim the next start reads as this exit.
	e.rootfsLeft = e.removing || rec.HostConfig.AutoRemove
	if !e.rootfsLeft {
		s.releaseRootfs(rec.ID)
	}
	s.releaseMounts(rec)
	_ = s.rt.Delete(context.Background(), rec.ID, true)
	s.detachNetwork(rec)
	save := s.persist
	if e.rootfsLeft {
		save = func(e *entry) error { return saveUnsynced(s.containerDir(e.rec.ID), &e.rec) }
	}
	if err := save(e); err != nil {
		s.log.Error("recording an exit", "id", rec.ID, "err", err)
	}
	close(e.exited)
	e.exited = make(chan struct{})
	if exit.OOMKilled {
		s.publish("oom", rec, nil)
	}
	s.publish("die", rec, map[string]string{"exitCode": fmt.Sprint(exit.ExitCode)})
}
