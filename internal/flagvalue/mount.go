package flagvalue

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/mount"
)

// MountOpt is a repeatable --mount, CSV `key=value` fields as docker reads
// them: type=bind|volume|tmpfs|image|..., source, target, readonly, and
// the per-type bind-*, volume-*, image-* and tmpfs-* options.
type MountOpt struct {
	values []mount.Mount
}

// isFlagField reports the fields that may stand alone, as booleans
// ("readonly"). bind-nonrecursive is one so that it reaches its own,
// clearer, error.
func isFlagField(key string) bool {
	switch key {
	case "readonly", "ro", "volume-nocopy", "bind-nonrecursive", "bind-create-src":
		return true
	}
	return false
}

// Set parses one --mount value.
func (m *MountOpt) Set(value string) error {
	value = strings.TrimSpace(value)
	if value == "" {
		return errors.New("value is empty")
	}
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return err
	}
	mnt := mount.Mount{Type: mount.TypeVolume}
	for _, field := range fields {
		key, val, hasValue := strings.Cut(field, "=")
		// Space around keys and values is refused rather than trimmed: it
		// is usually a shell quoting mistake.
		if k := strings.TrimSpace(key); k != key {
			return fmt.Errorf("invalid option '%s' in '%s': option should not have whitespace", k, field)
		}
		if hasValue {
			v := strings.TrimSpace(val)
			if v == "" {
				return fmt.Errorf("invalid value for '%s': value is empty", key)
			}
			if v != val {
				return fmt.Errorf("invalid value for '%s' in '%s': value should not have whitespace", key, field)
			}
		}
		key = strings.ToLower(key)
		if !hasValue && !isFlagField(key) {
			return fmt.Errorf("invalid field '%s' must be a key=value pair", field)
		}
		if err := setMountField(&mnt, key, val, field, hasValue); err != nil {
			return err
		}
	}
	if err := checkMount(&mnt); err != nil {
		return err
	}
	m.values = append(m.values, mnt)
	return nil
}

// setMountField applies one field to mnt; field is the raw text for errors.
func setMountField(mnt *mount.Mount, key, val, field string, hasValue bool) error {
	var err error
	switch key {
	case "type":
		mnt.Type = mount.Type(strings.ToLower(val))
	case "source", "src":
		mnt.Source = val
		// "./dir" means a bind relative to here; the daemon has no "here".
		if !filepath.IsAbs(val) && strings.HasPrefix(val, ".") {
			if abs, err := filepath.Abs(val); err == nil {
				mnt.Source = abs
			}
		}
	case "target", "dst", "destination":
		mnt.Target = val
	case "readonly", "ro":
		mnt.ReadOnly, err = mountBool(key, val, hasValue)
	case "consistency":
		mnt.Consistency = mount.Consistency(strings.ToLower(val))
	case "bind-propagation":
		bindOptions(mnt).Propagation = mount.Propagation(strings.ToLower(val))
	case "bind-nonrecursive":
		return errors.New("bind-nonrecursive is deprecated, use bind-recursive=disabled instead")
	case "bind-recursive":
		switch val {
		case "enabled":
			// The default: recursive, and recursively read-only where the
			// kernel allows it.
		case "disabled":
			bindOptions(mnt).NonRecursive = true
		case "writable":
			bindOptions(mnt).ReadOnlyNonRecursive = true
		case "readonly":
			bindOptions(mnt).ReadOnlyForceRecursive = true
		default:
			return fmt.Errorf(`invalid value for %s: %s (must be "enabled", "disabled", "writable", or "readonly")`, key, val)
		}
	case "bind-create-src":
		bindOptions(mnt).CreateMountpoint, err = mountBool(key, val, hasValue)
	case "volume-subpath":
		volumeOptions(mnt).Subpath = val
	case "volume-nocopy":
		volumeOptions(mnt).NoCopy, err = mountBool(key, val, hasValue)
	case "volume-label":
		vo := volumeOptions(mnt)
		vo.Labels = putKV(vo.Labels, val)
	case "volume-driver":
		volumeDriver(mnt).Name = val
	case "volume-opt":
		d := volumeDriver(mnt)
		d.Options = putKV(d.Options, val)
	case "image-subpath":
		if mnt.ImageOptions == nil {
			mnt.ImageOptions = &mount.ImageOptions{}
		}
		mnt.ImageOptions.Subpath = val
	case "tmpfs-size":
		n, perr := units.RAMInBytes(val)
		if perr != nil {
			return fmt.Errorf("invalid value for %s: %s", key, val)
		}
		tmpfsOptions(mnt).SizeBytes = n
	case "tmpfs-mode":
		mode, perr := strconv.ParseUint(val, 8, 32)
		if perr != nil {
			return fmt.Errorf("invalid value for %s: %s", key, val)
		}
		tmpfsOptions(mnt).Mode = os.FileMode(mode)
	default:
		return fmt.Errorf("unknown option '%s' in '%s'", key, field)
	}
	return err
}

// checkMount refuses options of another mount type and the recursive
// read-only modes without what they depend on.
func checkMount(m *mount.Mount) error {
	if m.Type == "" {
		return errors.New("type is required")
	}
	for _, o := range []struct {
		typ    mount.Type
		prefix string
		set    bool
	}{
		{mount.TypeBind, "bind", m.BindOptions != nil},
		{mount.TypeVolume, "volume", m.VolumeOptions != nil},
		{mount.TypeImage, "image", m.ImageOptions != nil},
		{mount.TypeTmpfs, "tmpfs", m.TmpfsOptions != nil},
		{mount.TypeCluster, "cluster", m.ClusterOptions != nil},
	} {
		if o.set && m.Type != o.typ {
			return fmt.Errorf("cannot mix '%s-*' options with mount type '%s'", o.prefix, m.Type)
		}
	}
	if b := m.BindOptions; b != nil {
		if b.ReadOnlyNonRecursive && !m.ReadOnly {
			return errors.New("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction")
		}
		if b.ReadOnlyForceRecursive {
			if !m.ReadOnly {
				return errors.New("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction")
			}
			if b.Propagation != mount.PropagationRPrivate {
				return errors.New("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction")
			}
		}
	}
	return nil
}

// mountBool reads a boolean field; alone it means true. Only the four
// spellings docker documents are taken, not all of strconv.ParseBool's.
func mountBool(key, val string, hasValue bool) (bool, error) {
	if !hasValue {
		return true, nil
	}
	switch val {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, fmt.Errorf(`invalid value for '%s': invalid boolean value (%q): must be one of "true", "1", "false", or "0" (default "true")`, key, val)
}

func bindOptions(m *mount.Mount) *mount.BindOptions {
	if m.BindOptions == nil {
		m.BindOptions = &mount.BindOptions{}
	}
	return m.BindOptions
}

func volumeOptions(m *mount.Mount) *mount.VolumeOptions {
	if m.VolumeOptions == nil {
		m.VolumeOptions = &mount.VolumeOptions{}
	}
	return m.VolumeOptions
}

func volumeDriver(m *mount.Mount) *mount.Driver {
	vo := volumeOptions(m)
	if vo.DriverConfig == nil {
		vo.DriverConfig = &mount.Driver{}
	}
	return vo.DriverConfig
}

func tmpfsOptions(m *mount.Mount) *mount.TmpfsOptions {
	if m.TmpfsOptions == nil {
		m.TmpfsOptions = &mount.TmpfsOptions{}
	}
	return m.TmpfsOptions
}

// putKV stores a `k=v` in target, made on first use; an empty key is
// ignored, as docker ignores it.
func putKV(target map[string]string, kv string) map[string]string {
	k, v, _ := strings.Cut(kv, "=")
	if k == "" {
		return target
	}
	if target == nil {
		target = map[string]string{}
	}
	target[k] = v
	return target
}

func (m *MountOpt) String() string {
	out := make([]string, 0, len(m.values))
	for _, v := range m.values {
		out = append(out, fmt.Sprintf("%s %s %s", v.Type, v.Source, v.Target))
	}
	return strings.Join(out, ", ")
}

// Type names the value in help output, as docker does.
func (*MountOpt) Type() string { return "mount" }

// Value returns the mounts in the order given.
func (m *MountOpt) Value() []mount.Mount { return m.values }
