package container

import (
	"context"
	"os"
	"path/filepath"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/idle"
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
		e.removing = true
		e.mu.Unlock()
		if e.rec.State.Status == container.StatePaused {
			_ = s.rt.Resume(ctx, id)
		}
		err := s.signal(ctx, id, unix.SIGKILL, true)
		if err == nil || isGone(err) {
			select {
			case <-exited:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		e.mu.Lock()
		if err != nil && !isGone(err) {
			s.keepContainer(e)
			e.mu.Unlock()
			return err
		}
	}
	defer e.mu.Unlock()
	select {
	case <-e.removed:
		return errdefs.NotFound("No such container: %s", ref)
	default:
	}
	if e.rec.State.Running() {
		s.keepContainer(e)
		return errdefs.Conflict("container %s started again while being removed", e.rec.ID)
	}
	// The record goes first, by one rename: a crash from here on leaves
	// no container, only files the next start deletes (finishRemoval).
	// The root filesystem, the writable layer and the files then go in the
	// background, unless the disk is short of the space they hold.
	trash := filepath.Join(s.dir, removedPrefix+e.rec.ID)
	if err := os.Rename(s.containerDir(e.rec.ID), trash); err != nil {
		s.keepContainer(e)
		return err
	}
	id := e.rec.ID
	background := func() { s.finishRemoval(id) }
	if !e.rootfsLeft {
		// Exited before: its root filesystem and bundle are gone, its
		// writable layer goes now (the snapshotter deletes the files in
		// the background), the record's directory after.
		s.removeLayer(id)
		background = func() { _ = os.RemoveAll(trash) }
	}
	s.removeMounts(ctx, &e.rec, opts.Volumes)
	s.detachNetwork(&e.rec)
	if idle.CanWait(s.dir) {
		s.deleting.Add(1)
		go func() {
			defer s.deleting.Done()
			background()
		}()
	} else {
		background()
	}
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

// finishRemoval deletes what a removed container leaves once its record
// is gone (renamed to removedPrefix+id): its root filesystem, its writable
// layer, its bundle, then the record's directory, last, so that a crash
// half-way leaves the mark for the next start to finish.
func (s *Service) finishRemoval(id string) {
	s.releaseRootfs(id)
	s.removeLayer(id)
	_ = os.RemoveAll(filepath.Join(s.dir, removedPrefix+id))
}

func (s *Service) removeLayer(id string) {
	if err := s.snaps.Remove(context.Background(), id); err != nil && !errdefsIs(err, errdefs.ErrNotFound) {
		s.log.Warn("removing a container's writable layer", "id", id, "err", err)
	}
}

// keepContainer undoes a forced removal's preparations when the removal
// fails: the container stays, as an exited one does. The caller holds
// e.mu.
func (s *Service) keepContainer(e *entry) {
	if e.rootfsLeft {
		s.releaseRootfs(e.rec.ID)
	}
	e.removing, e.rootfsLeft = false, false
}
