package container

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/mount"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/volume"
)

// This file reads -v and --mount as Docker's daemon does (its
// volume/mounts linux parser): the same rules, the same messages.

// Docker's words for a bad mount.
func errInvalidSpec(raw string) error {
	return errdefs.Invalid("invalid volume specification: '%s'", raw)
}

func errMountConfig(typ mount.Type, err error) error {
	return errdefs.Invalid("invalid mount config for type %q: %v", typ, err)
}

// The kinds of -v mode words, by function rather than package-level maps:
// this package is linked into every container's init.
func rwMode(o string) bool          { return o == "rw" || o == "ro" }
func labelMode(o string) bool       { return o == "z" || o == "Z" }
func copyMode(o string) bool        { return o == "nocopy" }
func consistencyMode(o string) bool { return o == "consistent" || o == "cached" || o == "delegated" }

func propagationMode(o string) bool { return slices.Contains(mount.Propagations, mount.Propagation(o)) }

// validMode is Docker's check of -v's third part: each kind at most once.
func validMode(mode string) bool {
	if mode == "" {
		return true
	}
	counts := map[string]int{}
	for _, o := range strings.Split(mode, ",") {
		switch {
		case rwMode(o):
			counts["rw"]++
		case labelMode(o):
			counts["label"]++
		case propagationMode(o):
			counts["propagation"]++
		case copyMode(o):
			counts["copy"]++
		case consistencyMode(o):
			counts["consistency"]++
		default:
			return false
		}
	}
	for _, n := range counts {
		if n > 1 {
			return false
		}
	}
	return true
}

func modeHas(mode string, want func(string) bool) (string, bool) {
	for _, o := range strings.Split(mode, ",") {
		if want(o) {
			return o, true
		}
	}
	return "", false
}

func checkTarget(target string) error {
	if target == "" {
		return errors.New("field Target must not be empty")
	}
	if path.Clean(target) == "/" {
		return errors.New("invalid specification: destination can't be '/'")
	}
	if !path.IsAbs(target) {
		return fmt.Errorf("invalid mount path: '%s' mount path must be absolute", target)
	}
	return nil
}

// parseBind reads one -v value as Docker's daemon does:
// [source:]target[:mode]; an absolute source is a bind, any other a
// volume's name.
func parseBind(raw, volumeDriver string) (MountPoint, error) {
	arr := strings.SplitN(raw, ":", 4)
	if arr[0] == "" {
		return MountPoint{}, errInvalidSpec(raw)
	}
	var src, dst, mode string
	switch len(arr) {
	case 1:
		dst = arr[0]
	case 2:
		if validMode(arr[1]) {
			return MountPoint{}, errInvalidSpec(raw) // "/foo:rw": a mode without a target
		}
		src, dst = arr[0], arr[1]
	case 3:
		src, dst, mode = arr[0], arr[1], arr[2]
	default:
		return MountPoint{}, errInvalidSpec(raw)
	}
	if !validMode(mode) {
		return MountPoint{}, errdefs.Invalid("invalid mode: %s", mode)
	}
	_, ro := modeHas(mode, func(o string) bool { return o == "ro" })
	mp := MountPoint{Mode: mode, RW: !ro, Source: src}
	typ := mount.TypeVolume
	if path.IsAbs(src) {
		typ = mount.TypeBind
	}
	mp.Type = typ
	if err := checkTarget(dst); err != nil {
		return MountPoint{}, errdefs.Invalid("%v: %v", errInvalidSpec(raw), errMountConfig(typ, err))
	}
	mp.Destination = path.Clean(dst)
	switch typ {
	case mount.TypeBind:
		mp.Source = path.Clean(src)
		mp.CreateSource = true
		mp.Propagation = mount.PropagationRPrivate
		if p, ok := modeHas(mode, propagationMode); ok {
			mp.Propagation = mount.Propagation(p)
		}
	case mount.TypeVolume:
		mp.Source = ""
		mp.Name = src
		mp.Driver = volumeDriverOf(volumeDriver)
		_, nocopy := modeHas(mode, func(o string) bool { return o == "nocopy" })
		mp.CopyData = !nocopy
		if src == "" {
			if !mp.RW {
				return MountPoint{}, errdefs.Invalid("%v: %v", errInvalidSpec(raw), errMountConfig(typ, errors.New("must not set ReadOnly mode when using anonymous volumes")))
			}
			mp.Anonymous = true
		} else if mode == "" && mp.Driver == volume.DriverName {
			mp.Mode = "z"
		}
	}
	return mp, nil
}

func volumeDriverOf(d string) string {
	if d == "" {
		return volume.DriverName
	}
	return d
}

// parseMountSpec reads one --mount (HostConfig.Mounts) as Docker's daemon
// does; a bind source must exist unless bind-create-src says otherwise.
func parseMountSpec(m mount.Mount) (MountPoint, error) {
	switch m.Type {
	case mount.TypeBind, mount.TypeVolume, mount.TypeTmpfs:
	case mount.TypeImage:
		return MountPoint{}, errdefs.Invalid("mount type %q is not supported yet: use a volume or a bind mount", m.Type)
	default:
		return MountPoint{}, errMountConfig(m.Type, errors.New("mount type unknown"))
	}
	if err := checkTarget(m.Target); err != nil {
		return MountPoint{}, errMountConfig(m.Type, err)
	}
	mp := MountPoint{Type: m.Type, Destination: path.Clean(m.Target), RW: !m.ReadOnly}
	switch m.Type {
	case mount.TypeBind:
		if m.Source == "" {
			return mp, errMountConfig(m.Type, errors.New("field Source must not be empty"))
		}
		if m.VolumeOptions != nil {
			return mp, errMountConfig(m.Type, errors.New("field VolumeOptions must not be specified"))
		}
		if m.TmpfsOptions != nil {
			return mp, errMountConfig(m.Type, errors.New("field TmpfsOptions must not be specified"))
		}
		if !path.IsAbs(m.Source) {
			return mp, errMountConfig(m.Type, fmt.Errorf("invalid mount path: '%s' mount path must be absolute", m.Source))
		}
		mp.Source = path.Clean(m.Source)
		mp.Propagation = mount.PropagationRPrivate
		if o := m.BindOptions; o != nil {
			if o.Propagation != "" {
				if !propagationMode(string(o.Propagation)) {
					return mp, errMountConfig(m.Type, fmt.Errorf("invalid propagation mode: %s", o.Propagation))
				}
				mp.Propagation = o.Propagation
			}
			mp.NonRecursive = o.NonRecursive
			mp.CreateSource = o.CreateMountpoint
			mp.ReadOnlyNonRecursive = o.ReadOnlyNonRecursive
			mp.ReadOnlyForceRecursive = o.ReadOnlyForceRecursive
		}
		if !mp.CreateSource {
			if _, err := os.Stat(mp.Source); err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return mp, errMountConfig(m.Type, fmt.Errorf("bind source path does not exist: %s", mp.Source))
				}
				return mp, errMountConfig(m.Type, err)
			}
		}
	case mount.TypeVolume:
		if m.BindOptions != nil {
			return mp, errMountConfig(m.Type, errors.New("field BindOptions must not be specified"))
		}
		if m.TmpfsOptions != nil {
			return mp, errMountConfig(m.Type, errors.New("field TmpfsOptions must not be specified"))
		}
		mp.Name = m.Source
		mp.Anonymous = m.Source == ""
		mp.Driver = volume.DriverName
		mp.CopyData = true
		if o := m.VolumeOptions; o != nil {
			if o.Subpath != "" {
				return mp, errdefs.Invalid("volume-subpath is not supported yet: mount the whole volume")
			}
			mp.CopyData = !o.NoCopy
			mp.VolumeLabels = o.Labels
			if o.DriverConfig != nil {
				mp.Driver = volumeDriverOf(o.DriverConfig.Name)
				mp.VolumeOptions = o.DriverConfig.Options
			}
		}
		if mp.Anonymous && m.ReadOnly {
			return mp, errMountConfig(m.Type, errors.New("must not set ReadOnly mode when using anonymous volumes"))
		}
		if mp.Driver == volume.DriverName {
			mp.Mode = "z"
		}
	case mount.TypeTmpfs:
		if m.BindOptions != nil {
			return mp, errMountConfig(m.Type, errors.New("field BindOptions must not be specified"))
		}
		if m.Source != "" {
			return mp, errMountConfig(m.Type, errors.New("field Source must not be specified"))
		}
		data, err := tmpfsData(m.TmpfsOptions, m.ReadOnly)
		if err != nil {
			return mp, errMountConfig(m.Type, err)
		}
		mp.TmpfsData = data
	}
	return mp, nil
}

// tmpfsData is --mount's tmpfs-size and tmpfs-mode as mount options.
func tmpfsData(o *mount.TmpfsOptions, ro bool) (string, error) {
	var opts []string
	if ro {
		opts = append(opts, "ro")
	}
	if o == nil {
		return strings.Join(opts, ","), nil
	}
	if o.Mode != 0 {
		opts = append(opts, fmt.Sprintf("mode=%o", o.Mode))
	}
	if o.SizeBytes < 0 {
		return "", errors.New("invalid tmpfs size: must not be negative")
	}
	if o.SizeBytes != 0 {
		size, suffix := o.SizeBytes, ""
		for _, r := range []struct {
			suffix string
			div    int64
		}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
			if size%r.div == 0 {
				size, suffix = size/r.div, r.suffix
				break
			}
		}
		opts = append(opts, fmt.Sprintf("size=%d%s", size, suffix))
	}
	for _, kv := range o.Options {
		if len(kv) < 1 || len(kv) > 2 {
			return "", errors.New("invalid option array length")
		}
		if kv[0] != "exec" && kv[0] != "noexec" {
			return "", errors.New("invalid option: " + kv[0])
		}
		opts = append(opts, strings.Join(kv, "="))
	}
	return strings.Join(opts, ","), nil
}
