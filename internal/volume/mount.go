package volume

import (
	"bufio"
	"context"
	"os"
	"strings"

	eventtypes "github.com/moby/moby/api/types/events"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/mount"
)

// MountEvent says which container mounts a volume where, for the event.
type MountEvent struct {
	Container   string
	Destination string
	ReadWrite   bool
	Propagation string
}

// Mount makes the volume's data ready for container ref and returns its
// path. A volume made with options (type=tmpfs, type=none,o=bind, ...) is
// mounted on its data directory when its first user comes.
func (s *Service) Mount(ctx context.Context, name string, ev MountEvent) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.vols[name]
	if !ok {
		return "", noSuchVolume(name)
	}
	if len(e.meta.Options) > 0 && !e.mounted {
		if err := s.mountLocked(e); err != nil {
			return "", err
		}
	}
	e.users[ev.Container] = struct{}{}
	e.refs[ev.Container] = struct{}{}
	s.publish(eventtypes.ActionMount, name, map[string]string{
		"driver": e.meta.Driver, "container": ev.Container, "destination": ev.Destination,
		"read/write": boolString(ev.ReadWrite), "propagation": ev.Propagation,
	})
	return s.Path(name), nil
}

// Unmount ends container ref's use of the volume's data; the last user of
// a volume with options unmounts it.
func (s *Service) Unmount(ctx context.Context, name, ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.vols[name]
	if !ok {
		return nil
	}
	_, was := e.users[ref]
	delete(e.users, ref)
	if was {
		s.publish(eventtypes.ActionUnmount, name, map[string]string{"driver": e.meta.Driver, "container": ref})
	}
	if len(e.users) == 0 && e.mounted {
		return s.unmountLocked(e)
	}
	return nil
}

// Restored records that container ref, found running at the daemon's
// start, has the volume mounted: no event, and a volume with options that
// is still mounted is not mounted again.
func (s *Service) Restored(ctx context.Context, name, ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.vols[name]
	if !ok {
		return noSuchVolume(name)
	}
	e.refs[ref] = struct{}{}
	if len(e.meta.Options) > 0 && !e.mounted {
		if err := s.mountLocked(e); err != nil {
			return err
		}
	}
	e.users[ref] = struct{}{}
	return nil
}

func (s *Service) mountLocked(e *entry) error {
	o := e.meta.Options
	var opts []string
	if o["o"] != "" {
		opts = strings.Split(o["o"], ",")
	}
	m := mount.Mount{Type: o["type"], Source: o["device"], Options: opts}
	if m.Source == "" {
		return errdefs.Invalid("missing device in volume options")
	}
	if err := mount.All(context.Background(), []mount.Mount{m}, s.Path(e.meta.Name)); err != nil {
		return errdefs.Invalid("failed to mount local volume: %v", err)
	}
	e.mounted = true
	return nil
}

func (s *Service) unmountLocked(e *entry) error {
	if err := mount.Unmount(context.Background(), s.Path(e.meta.Name)); err != nil {
		return err
	}
	e.mounted = false
	return nil
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// mountPoints are the mount points of this process's mount namespace.
func mountPoints() map[string]bool {
	out := map[string]bool{}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			out[unescapeMountPath(fields[4])] = true
		}
	}
	return out
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(p string) string {
	if !strings.Contains(p, `\`) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+3 < len(p) {
			v := (int(p[i+1]-'0') << 6) | (int(p[i+2]-'0') << 3) | int(p[i+3]-'0')
			b.WriteByte(byte(v))
			i += 3
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}
