package volume

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/volume"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// CreateOptions are a volume create's: POST /volumes/create, or a
// container's -v/--mount naming a volume that does not exist yet.
type CreateOptions struct {
	Name    string // "" makes an anonymous volume with a random name
	Driver  string // "" or "local"
	Labels  map[string]string
	Options map[string]string // the local driver's: type, device, o
	// Ref is the container that will use the volume: it holds the volume
	// from the create on, so no removal or prune can come between.
	Ref string
}

// Create makes a volume, or returns the one of that name (a create of an
// existing volume is not an error, as with Docker). created says which.
func (s *Service) Create(ctx context.Context, o CreateOptions) (v volume.Volume, created bool, err error) {
	name := o.Name
	labels := cloneMap(o.Labels)
	if name == "" {
		name = randomName()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[AnonymousLabel] = ""
	}
	if err := checkDriver(o.Driver); err != nil {
		return v, false, opErr("create", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.vols[name]; ok {
		if o.Ref != "" {
			e.refs[o.Ref] = struct{}{}
		}
		return s.toAPI(e), false, nil
	}
	if err := validateName(name); err != nil {
		return v, false, opErr("create", name, err)
	}
	if err := validateOptions(o.Options); err != nil {
		return v, false, opErr("create", name, err)
	}
	meta := Meta{Name: name, Driver: DriverName, Labels: labels, Options: cloneMap(o.Options), CreatedAt: time.Now().UTC().Truncate(time.Second)}
	if len(meta.Options) == 0 {
		meta.Options = nil
	}
	if err := s.makeDir(meta); err != nil {
		return v, false, opErr("create", name, err)
	}
	e := &entry{meta: meta, refs: map[string]struct{}{}, users: map[string]struct{}{}}
	if o.Ref != "" {
		e.refs[o.Ref] = struct{}{}
	}
	s.vols[name] = e
	s.publish(eventtypes.ActionCreate, name, nil)
	return s.toAPI(e), true, nil
}

// makeDir builds the volume in a staged directory and gives it its name
// by one rename: a crash leaves the whole volume or a staged directory
// that the next start deletes.
func (s *Service) makeDir(meta Meta) error {
	// Staged and trashed directories have names of their own, not the
	// volume's: a long volume name must still fit.
	stage := filepath.Join(s.root, stagePrefix+randomName()[:16])
	if err := os.Mkdir(stage, dirMode); err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(stage)
		}
	}()
	if err := os.Mkdir(filepath.Join(stage, dataDir), dirMode); err != nil {
		return err
	}
	if err := writeMeta(stage, meta); err != nil {
		return err
	}
	if err := syncDir(stage); err != nil {
		return err
	}
	final := filepath.Join(s.root, meta.Name)
	if err := unix.Renameat2(unix.AT_FDCWD, stage, unix.AT_FDCWD, final, unix.RENAME_NOREPLACE); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("volume already exists under %s", final)
		}
		return err
	}
	ok = true
	return syncDir(s.root)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func checkDriver(driver string) error {
	if driver == "" || driver == DriverName {
		return nil
	}
	return errdefs.NotFound("error looking up volume plugin %s: plugin %q not found", driver, driver)
}

// validateOptions is the local driver's check of -o: type, device and o,
// each needing the others as Docker's does. "size" needs quotas, which
// gantry does not set up.
func validateOptions(opts map[string]string) error {
	for k := range opts {
		switch k {
		case "type", "device", "o":
		case "size":
			return errdefs.Invalid("quota size requested but no quota support")
		default:
			return errdefs.Invalid("invalid option: %q", k)
		}
	}
	required := map[string][]string{"device": {"type"}, "type": {"device"}, "o": {"device", "type"}}
	for _, k := range []string{"device", "type", "o"} {
		if _, ok := opts[k]; !ok {
			continue
		}
		for _, r := range required[k] {
			if _, ok := opts[r]; !ok {
				return errdefs.Invalid("missing required option: %q", r)
			}
		}
	}
	return nil
}

// Get returns a volume.
func (s *Service) Get(ctx context.Context, name string) (volume.Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.vols[name]
	if !ok {
		return volume.Volume{}, noSuchVolume(name)
	}
	return s.toAPI(e), nil
}

func noSuchVolume(name string) error {
	return opErr("get", name, errdefs.NotFound("no such volume"))
}

// Acquire records that container ref uses the volume (a container's
// create, or the daemon's start finding its containers again).
func (s *Service) Acquire(name, ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.vols[name]
	if !ok {
		return noSuchVolume(name)
	}
	e.refs[ref] = struct{}{}
	return nil
}

// Release drops container ref's hold on the volume.
func (s *Service) Release(name, ref string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.vols[name]; ok {
		delete(e.refs, ref)
	}
}

// InUse lists the containers that hold the volume.
func (s *Service) InUse(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.vols[name]; ok {
		return sortedKeys(e.refs)
	}
	return nil
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Remove deletes a volume and its data. One in use is refused; force
// makes a missing volume no error (Docker's `volume rm -f`), it never
// removes a volume in use.
func (s *Service) Remove(ctx context.Context, name string, force bool) error {
	s.mu.Lock()
	e, ok := s.vols[name]
	if !ok {
		s.mu.Unlock()
		if force {
			return nil
		}
		return noSuchVolume(name)
	}
	if len(e.refs) > 0 {
		refs := sortedKeys(e.refs)
		s.mu.Unlock()
		return &wrapped{msg: fmt.Sprintf("remove %s: volume is in use - [%s]", name, joinComma(refs)), cause: errdefs.Conflict("volume is in use")}
	}
	trash, err := s.trashLocked(e)
	s.mu.Unlock()
	if err != nil {
		return opErr("remove", name, err)
	}
	if err := removeVolumeDir(trash, mountPoints()); err != nil {
		s.log.Warn("deleting a removed volume's data", "name", name, "err", err)
	}
	s.publish(eventtypes.ActionDestroy, name, nil)
	return nil
}

// trashLocked takes the volume out of sight by one rename; its data is
// deleted after. The caller holds s.mu.
func (s *Service) trashLocked(e *entry) (string, error) {
	name := e.meta.Name
	if e.mounted {
		if err := s.unmountLocked(e); err != nil {
			return "", err
		}
	}
	trash := filepath.Join(s.root, trashPrefix+randomName()[:16])
	if err := os.Rename(filepath.Join(s.root, name), trash); err != nil {
		return "", err
	}
	_ = syncDir(s.root)
	delete(s.vols, name)
	return trash, nil
}

func joinComma(list []string) string {
	out := ""
	for i, s := range list {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}

// removeVolumeDir deletes a volume's directory. Anything still mounted
// in it is detached first, and a data directory that was a mount point
// (a volume with options: its content is elsewhere) is only rmdir'ed:
// deleting through a bind mount would delete the host's files.
func removeVolumeDir(dir string, mounted map[string]bool) error {
	data := filepath.Join(dir, dataDir)
	wasMount := false
	for p := range mounted {
		if p == data || len(p) > len(dir) && p[:len(dir)+1] == dir+"/" {
			wasMount = true
			_ = unix.Unmount(p, unix.MNT_DETACH)
		}
	}
	if wasMount || hasOptions(dir) {
		if err := os.Remove(data); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return os.RemoveAll(dir)
}

// hasOptions tells from a volume directory's metadata whether it was made
// with mount options.
func hasOptions(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return false
	}
	var m Meta
	return json.Unmarshal(data, &m) == nil && len(m.Options) > 0
}
