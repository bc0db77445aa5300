package container

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/volume"
)

// MountPoint is one of a container's mounts, as decided at its create
// from -v, --mount, --volumes-from and the image's VOLUMEs, and kept in
// its record: what the spec mounts at each start, what inspect shows and
// what rm -v removes.
type MountPoint struct {
	Type        mount.Type        `json:"type"`
	Name        string            `json:"name,omitempty"`   // the volume's
	Source      string            `json:"source,omitempty"` // the host path: a bind's source, a volume's data
	Destination string            `json:"destination"`
	Driver      string            `json:"driver,omitempty"`
	Mode        string            `json:"mode,omitempty"` // as the user wrote it (-v's third part)
	RW          bool              `json:"rw"`
	Propagation mount.Propagation `json:"propagation,omitempty"`
	// CopyData fills a new (empty) volume from the image at the start.
	CopyData bool `json:"copyData,omitempty"`
	// Anonymous volumes were made for this container: rm -v and --rm
	// remove them. A volume named by the user never is.
	Anonymous bool `json:"anonymous,omitempty"`
	// CreateSource makes a missing bind source, as -v does.
	CreateSource bool `json:"createSource,omitempty"`
	NonRecursive bool `json:"nonRecursive,omitempty"`
	// ReadOnlyNonRecursive (bind-recursive=writable) leaves mounts below
	// a read-only bind writable; ReadOnlyForceRecursive
	// (bind-recursive=readonly) fails where the kernel cannot make them
	// read-only. By default they are made read-only where it can, as
	// Docker does.
	ReadOnlyNonRecursive   bool   `json:"readOnlyNonRecursive,omitempty"`
	ReadOnlyForceRecursive bool   `json:"readOnlyForceRecursive,omitempty"`
	TmpfsData              string `json:"tmpfsData,omitempty"` // tmpfs options: size=, mode=
	// Labels and options for a volume this container's create makes
	// (--mount's volume-label and volume-opt).
	VolumeLabels  map[string]string `json:"volumeLabels,omitempty"`
	VolumeOptions map[string]string `json:"volumeOptions,omitempty"`
}

// planMounts works out a container's mounts and checks them, making
// nothing: volumes-from first, then -v and --mount over them, then the
// image's (and -v /path's) VOLUMEs where nothing else is mounted.
func (s *Service) planMounts(rec *Record) ([]MountPoint, error) {
	hc := rec.HostConfig
	byDest := map[string]MountPoint{}
	for _, from := range hc.VolumesFrom {
		mps, err := s.volumesFrom(from)
		if err != nil {
			return nil, err
		}
		for _, mp := range mps {
			byDest[mp.Destination] = mp
		}
	}
	user := map[string]bool{}
	for _, raw := range hc.Binds {
		mp, err := parseBind(raw, hc.VolumeDriver)
		if err != nil {
			return nil, err
		}
		if mp.Type == mount.TypeVolume && mp.Anonymous {
			// "-v /path" reaches the daemon in Config.Volumes; one in
			// Binds (from an API client) means the same.
			mp.Mode = ""
		}
		if user[mp.Destination] {
			return nil, errdefs.Invalid("Duplicate mount point: %s", mp.Destination)
		}
		user[mp.Destination] = true
		byDest[mp.Destination] = mp
	}
	for _, m := range hc.Mounts {
		mp, err := parseMountSpec(m)
		if err != nil {
			return nil, err
		}
		if user[mp.Destination] {
			return nil, errdefs.Invalid("Duplicate mount point: %s", mp.Destination)
		}
		user[mp.Destination] = true
		byDest[mp.Destination] = mp
	}
	for _, mp := range byDest {
		if mp.Type == mount.TypeVolume && !mp.Anonymous {
			if err := volume.ValidateName(mp.Name); err != nil {
				return nil, errdefs.Invalid("create %s: %v", mp.Name, err)
			}
		}
		if mp.Type == mount.TypeVolume && mp.Driver != volume.DriverName {
			name := mp.Name
			if name == "" {
				name = "(anonymous)"
			}
			// A 404 would make the docker CLI try to pull the image.
			return nil, errdefs.Invalid("create %s: error looking up volume plugin %s: plugin %q not found", name, mp.Driver, mp.Driver)
		}
	}
	var anon []string
	for dest := range rec.Config.Volumes {
		anon = append(anon, dest)
	}
	slices.Sort(anon)
	for _, raw := range anon {
		if err := checkTarget(raw); err != nil {
			return nil, errMountConfig(mount.TypeVolume, err)
		}
		dest := path.Clean(raw)
		if _, ok := byDest[dest]; ok {
			continue
		}
		if _, ok := hc.Tmpfs[dest]; ok {
			continue
		}
		driver := volumeDriverOf(hc.VolumeDriver)
		if driver != volume.DriverName {
			return nil, errdefs.Invalid("create (anonymous): error looking up volume plugin %s: plugin %q not found", driver, driver)
		}
		byDest[dest] = MountPoint{Type: mount.TypeVolume, Destination: dest, Driver: driver, RW: true, CopyData: true, Anonymous: true}
	}
	out := make([]MountPoint, 0, len(byDest))
	for _, mp := range byDest {
		out = append(out, mp)
	}
	slices.SortFunc(out, func(a, b MountPoint) int { return strings.Compare(a.Destination, b.Destination) })
	return out, nil
}

// volumesFrom is another container's mounts, read-only if asked
// (ctr:ro), for --volumes-from.
func (s *Service) volumesFrom(spec string) ([]MountPoint, error) {
	if spec == "" {
		return nil, errdefs.Invalid("volumes-from specification cannot be an empty string")
	}
	ref, mode, _ := strings.Cut(spec, ":")
	if mode == "" {
		mode = "rw"
	}
	_, prop := modeHas(mode, propagationMode)
	_, cp := modeHas(mode, copyMode)
	if !validMode(mode) || prop || cp {
		return nil, errdefs.Invalid("invalid mode: %s", mode)
	}
	_, ro := modeHas(mode, func(o string) bool { return o == "ro" })
	e, err := s.lookup(ref)
	if err != nil {
		// Not a 404: the docker CLI would take it for a missing image.
		return nil, errdefs.Invalid("%v", err)
	}
	e.mu.Lock()
	src := slices.Clone(e.rec.Mounts)
	e.mu.Unlock()
	out := make([]MountPoint, 0, len(src))
	for _, mp := range src {
		mp.RW = mp.RW && !ro
		mp.CopyData = false
		mp.CreateSource = false
		mp.Mode = ""
		out = append(out, mp)
	}
	return out, nil
}

// claimMounts makes or finds the volumes of a new container's mounts and
// takes a reference on each, so none can be removed while the container
// exists. On failure nothing it made is left; undo takes back what it did
// (for a create that fails after it).
func (s *Service) claimMounts(ctx context.Context, rec *Record) (undo func(), err error) {
	type made struct {
		name    string
		created bool
	}
	var claimed []made
	undo = func() {
		for _, m := range claimed {
			s.cfg.Volumes.Release(m.name, rec.ID)
			if m.created {
				_ = s.cfg.Volumes.Remove(context.Background(), m.name, true)
			}
		}
	}
	defer func() {
		if err != nil {
			undo()
		}
	}()
	for i := range rec.Mounts {
		mp := &rec.Mounts[i]
		if mp.Type != mount.TypeVolume {
			continue
		}
		if s.cfg.Volumes == nil {
			return undo, errdefs.Unavailable("volumes are not available in this engine")
		}
		v, created, err := s.cfg.Volumes.Create(ctx, volume.CreateOptions{
			Name: mp.Name, Driver: mp.Driver, Labels: mp.VolumeLabels, Options: mp.VolumeOptions, Ref: rec.ID,
		})
		if err != nil {
			return undo, err
		}
		claimed = append(claimed, made{v.Name, created})
		mp.Name = v.Name
		mp.Source = v.Mountpoint
		mp.Driver = v.Driver
	}
	return undo, nil
}

// userMounts are the spec's mounts for the container's volumes, binds
// and tmpfs, parents before children.
func userMounts(rec *Record) ([]specs.Mount, error) {
	tmpfs, err := tmpfsMounts(rec.HostConfig.Tmpfs)
	if err != nil {
		return nil, err
	}
	out := tmpfs
	for _, mp := range rec.Mounts {
		if _, ok := rec.HostConfig.Tmpfs[mp.Destination]; ok {
			return nil, errdefs.Invalid("Duplicate mount point: %s", mp.Destination)
		}
		switch mp.Type {
		case mount.TypeTmpfs:
			opts := []string{"noexec", "nosuid", "nodev"}
			if mp.TmpfsData != "" {
				opts = append(opts, strings.Split(mp.TmpfsData, ",")...)
			}
			out = append(out, specs.Mount{Destination: mp.Destination, Type: "tmpfs", Source: "tmpfs", Options: opts})
		default:
			bind := "rbind"
			if mp.NonRecursive {
				bind = "bind"
			}
			prop := string(mp.Propagation)
			if prop == "" {
				prop = string(mount.PropagationRPrivate)
			}
			opts := []string{bind, prop}
			if !mp.RW {
				opts = append(opts, "ro")
				if bind == "rbind" && !mp.ReadOnlyNonRecursive {
					if mountSetattr() {
						opts = append(opts, "rro")
					} else if mp.ReadOnlyForceRecursive {
						return nil, errdefs.Invalid("option 'bind-recursive=readonly' needs a kernel with mount_setattr (5.12 or newer)")
					}
				}
			}
			out = append(out, specs.Mount{Destination: mp.Destination, Type: "bind", Source: mp.Source, Options: opts})
		}
	}
	slices.SortStableFunc(out, func(a, b specs.Mount) int { return depth(a.Destination) - depth(b.Destination) })
	return out, nil
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// withUserMounts puts the user's mounts after the defaults, dropping a
// default that one of them replaces (a user's /dev/shm, /etc/hosts, ...)
// or hides (anything under a user's /dev).
func withUserMounts(defaults, user []specs.Mount) []specs.Mount {
	dests := map[string]bool{}
	for _, m := range user {
		dests[m.Destination] = true
	}
	out := make([]specs.Mount, 0, len(defaults)+len(user))
	for _, m := range defaults {
		if dests[m.Destination] || dests["/dev"] && strings.HasPrefix(m.Destination, "/dev/") {
			continue
		}
		out = append(out, m)
	}
	return append(out, user...)
}

// prepareMounts readies a container's mounts for a start, its root
// filesystem mounted at rootfs: missing -v bind sources are made, volumes
// are mounted (those with options) and new ones filled from the image.
// On failure what it mounted is released.
func (s *Service) prepareMounts(ctx context.Context, rec *Record, rootfs string) (err error) {
	var mounted []string
	defer func() {
		if err != nil {
			for _, name := range mounted {
				_ = s.cfg.Volumes.Unmount(context.Background(), name, rec.ID)
			}
		}
	}()
	for _, mp := range rec.Mounts {
		switch mp.Type {
		case mount.TypeBind:
			if !mp.CreateSource {
				continue
			}
			if _, err := os.Stat(mp.Source); errors.Is(err, os.ErrNotExist) {
				if err := os.MkdirAll(mp.Source, 0o755); err != nil {
					return errdefs.Invalid("error while creating mount source path '%s': %v", mp.Source, err)
				}
			}
		case mount.TypeVolume:
			if s.cfg.Volumes == nil {
				return errdefs.Unavailable("volumes are not available in this engine")
			}
			data, err := s.cfg.Volumes.Mount(ctx, mp.Name, volume.MountEvent{
				Container: rec.ID, Destination: mp.Destination, ReadWrite: mp.RW, Propagation: string(mp.Propagation),
			})
			if err != nil {
				return err
			}
			mounted = append(mounted, mp.Name)
			if !mp.CopyData {
				continue
			}
			if _, err := volume.CopyUp(rootfs, mp.Destination, data); err != nil {
				if errors.Is(err, volume.ErrNotDir) {
					return errdefs.Invalid("%v", err)
				}
				return err
			}
		}
	}
	return nil
}

// releaseMounts ends a run's use of its volumes (unmounting those with
// options when no other container uses them).
func (s *Service) releaseMounts(rec *Record) {
	if s.cfg.Volumes == nil {
		return
	}
	for _, mp := range rec.Mounts {
		if mp.Type == mount.TypeVolume {
			if err := s.cfg.Volumes.Unmount(context.Background(), mp.Name, rec.ID); err != nil {
				s.log.Warn("unmounting a volume", "volume", mp.Name, "container", rec.ID, "err", err)
			}
		}
	}
}

// removeMounts drops a removed container's references to its volumes
// and, with rm -v or --rm, removes its anonymous ones (those another
// container still uses stay).
func (s *Service) removeMounts(ctx context.Context, rec *Record, removeAnonymous bool) {
	if s.cfg.Volumes == nil {
		return
	}
	for _, mp := range rec.Mounts {
		if mp.Type != mount.TypeVolume {
			continue
		}
		s.cfg.Volumes.Release(mp.Name, rec.ID)
		if !removeAnonymous || !mp.Anonymous {
			continue
		}
		if err := s.cfg.Volumes.Remove(ctx, mp.Name, true); err != nil && !errors.Is(err, errdefs.ErrConflict) {
			s.log.Warn("removing a container's anonymous volume", "volume", mp.Name, "container", rec.ID, "err", err)
		}
	}
}

// restoreVolumes finds again, at the daemon's start, which containers use
// which volumes and which have them mounted (those that were running), so
// removal refuses what is in use and a volume with options stays mounted
// for its users. It runs before any exit found meanwhile is recorded.
func (s *Service) restoreVolumes(ctx context.Context, ents []os.DirEntry) {
	if s.cfg.Volumes == nil {
		return
	}
	for _, de := range ents {
		if strings.HasPrefix(de.Name(), removedPrefix) {
			continue
		}
		rec, err := load(filepath.Join(s.dir, de.Name()))
		if err != nil {
			continue
		}
		for _, mp := range rec.Mounts {
			if mp.Type != mount.TypeVolume {
				continue
			}
			if rec.State.Running() {
				err = s.cfg.Volumes.Restored(ctx, mp.Name, rec.ID)
			} else {
				err = s.cfg.Volumes.Acquire(mp.Name, rec.ID)
			}
			if err != nil {
				s.log.Warn("a container's volume is gone", "container", rec.ID, "volume", mp.Name, "err", err)
			}
		}
	}
}

// legacyMounts are the mounts of a record written before mount points
// were kept: its binds.
func legacyMounts(rec *Record) {
	if rec.Mounts != nil || rec.HostConfig == nil || len(rec.HostConfig.Binds) == 0 {
		return
	}
	for _, raw := range rec.HostConfig.Binds {
		if mp, err := parseBind(raw, ""); err == nil && mp.Type == mount.TypeBind {
			rec.Mounts = append(rec.Mounts, mp)
		}
	}
}

// apiMountPoints is the container's mounts as inspect and ps show them.
func apiMountPoints(rec *Record) []container.MountPoint {
	out := make([]container.MountPoint, 0, len(rec.Mounts))
	for _, mp := range rec.Mounts {
		out = append(out, container.MountPoint{
			Type: mp.Type, Name: mp.Name, Source: mp.Source, Destination: mp.Destination,
			Driver: mp.Driver, Mode: mp.Mode, RW: mp.RW, Propagation: mp.Propagation,
		})
	}
	return out
}

// usesVolume is ps's volume filter: a mount named (a volume's name, a
// bind's source) or mounted at one of vals.
func usesVolume(r *Record, vals []string) bool {
	for _, mp := range r.Mounts {
		name := mp.Name
		if name == "" {
			name = mp.Source
		}
		if slices.Contains(vals, name) || slices.Contains(vals, mp.Destination) {
			return true
		}
	}
	return false
}

// mountSetattr tells whether the kernel can make a mount tree read-only
// (mount_setattr, Linux 5.12): a call with no valid descriptor fails with
// EBADF there and ENOSYS before.
func mountSetattr() bool {
	err := unix.MountSetattr(-1, "", 0, &unix.MountAttr{})
	return !errors.Is(err, unix.ENOSYS)
}
