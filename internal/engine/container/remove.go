package container

import (
	"context"
	"os"
	"path/filepath"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// removedPrefix names a removed container's directory until its files are
// deleted.
const removedPrefix = ".removed-"

// RemoveOptions are DELETE /containers/{id}'s flags.
type RemoveOptions struct {
	Force   bool
	Volumes bool
}

// Remove deletes a container: its writable layer, files and record. A
// running one needs Force, and is killed first.
func (s *Service) Remove(ctx context.Context, ref string, opts RemoveOptions) error {
	e, err := s.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	s.cancelRestart(e)
	if e.rec.State.Running() {
		if !opts.Force {
			e.mu.Unlock()
			return errdefs.Conflict("cannot remove container \"/%s\": container is running: stop the container before removing or force remove", e.rec.Name)
		}
		exited := e.exited
		id := e.rec.ID
		e.rec.ManualStop = true
		e.mu.Unlock()
		if e.rec.State.Status == container.StatePaused {
			_ = s.rt.Resume(ctx, id)
		}
		if err := s.signal(ctx, id, unix.SIGKILL, true); err != nil && !isGone(err) {
			return err
		}
		select {
		case <-exited:
		case <-ctx.Done():
			return ctx.Err()
		}
		e.mu.Lock()
	}
	defer e.mu.Unlock()
	select {
	case <-e.removed:
		return errdefs.NotFound("No such container: %s", ref)
	default:
	}
	if e.rec.State.Running() {
		return errdefs.Conflict("container %s started again while being removed", e.rec.ID)
	}
	// The record goes first, by one rename: a crash from here on leaves
	// no container, only files the next start deletes. The writable layer
	// and the files then go, the bulk of it in the background.
	trash := filepath.Join(s.dir, removedPrefix+e.rec.ID)
	if err := os.Rename(s.containerDir(e.rec.ID), trash); err != nil {
		return err
	}
	if err := s.snaps.Remove(ctx, e.rec.ID); err != nil && !errdefsIs(err, errdefs.ErrNotFound) {
		s.log.Warn("removing a container's writable layer", "id", e.rec.ID, "err", err)
	}
	_ = os.RemoveAll(s.bundleDir(e.rec.ID))
	s.removeMounts(ctx, &e.rec, opts.Volumes)
	s.detachNetwork(&e.rec)
	s.deleting.Add(1)
	go func() {
		defer s.deleting.Done()
		_ = os.RemoveAll(trash)
	}()
	s.mu.Lock()
	delete(s.byID, e.rec.ID)
	if s.byName[e.rec.Name] == e.rec.ID {
		delete(s.byName, e.rec.Name)
	}
	for id := range e.execs {
		delete(s.execs, id)
	}
	s.mu.Unlock()
	close(e.removed)
	s.publish("destroy", &e.rec, nil)
	return nil
}
