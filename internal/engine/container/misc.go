package container

import (
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Rename gives a container a new name.
func (s *Service) Rename(ctx context.Context, ref, newName string) error {
	newName = strings.TrimPrefix(newName, "/")
	if newName == "" {
		return errdefs.Invalid("Neither old nor new names may be empty")
	}
	if !validName(newName) {
		return errdefs.Invalid("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", newName)
	}
	e, err := s.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.rec.Name
	if old == newName {
		return errdefs.Invalid("Renaming a container with the same name as its current name")
	}
	s.mu.Lock()
	if other, ok := s.byName[newName]; ok {
		s.mu.Unlock()
		return errdefs.Conflict("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", newName, other)
	}
	s.byName[newName] = e.rec.ID
	delete(s.byName, old)
	s.mu.Unlock()
	e.rec.Name = newName
	if err := s.persist(e); err != nil {
		return err
	}
	s.publish("rename", &e.rec, map[string]string{"oldName": "/" + old})
	return nil
}

// Top lists the container's processes with the host's ps, as Docker does.
func (s *Service) Top(ctx context.Context, ref, psArgs string) (*container.TopResponse, error) {
	e, err := s.lookup(ref)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	running, id := e.rec.State.Running(), e.rec.ID
	e.mu.Unlock()
	if !running {
		return nil, errdefs.Conflict("container %s is not running", id)
	}
	pids, err := s.rt.Processes(ctx, id)
	if err != nil {
		return nil, err
	}
	if psArgs == "" {
		psArgs = "-ef"
	}
	out, err := exec.CommandContext(ctx, "ps", strings.Fields(psArgs)...).Output()
	if err != nil {
		return nil, errdefs.Invalid("ps: %v", err)
	}
	return parsePS(out, pids)
}

func parsePS(out []byte, pids []int) (*container.TopResponse, error) {
	lines := strings.Split(string(bytes.TrimSpace(out)), "\n")
	if len(lines) == 0 {
		return nil, errdefs.Invalid("ps printed nothing")
	}
	titles := strings.Fields(lines[0])
	pidCol := -1
	for i, t := range titles {
		if t == "PID" {
			pidCol = i
		}
	}
	if pidCol < 0 {
		return nil, errdefs.Invalid("Couldn't find PID field in ps output")
	}
	want := map[int]bool{}
	for _, p := range pids {
		want[p] = true
	}
	resp := &container.TopResponse{Titles: titles}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= pidCol {
			continue
		}
		pid, err := strconv.Atoi(f[pidCol])
		if err != nil || !want[pid] {
			continue
		}
		// The last column (the command) may hold spaces.
		row := append(f[:len(titles)-1:len(titles)-1], strings.Join(f[len(titles)-1:], " "))
		resp.Processes = append(resp.Processes, row)
	}
	return resp, nil
}
