package flagvalue

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/moby/moby/api/types/mount"
)

func TestMountOpt(t *testing.T) {
	wd, _ := os.Getwd()
	for _, c := range []struct {
		in   string
		want mount.Mount
	}{
		{"type=bind,source=/a,target=/b", mount.Mount{Type: mount.TypeBind, Source: "/a", Target: "/b"}},
		{"TYPE=BIND,src=./rel,dst=/b,ro", mount.Mount{Type: mount.TypeBind, Source: filepath.Join(wd, "rel"), Target: "/b", ReadOnly: true}},
		{"target=/v,readonly=false,volume-nocopy", mount.Mount{Type: mount.TypeVolume, Target: "/v", VolumeOptions: &mount.VolumeOptions{NoCopy: true}}},
		{"target=/v,volume-label=a=b,volume-label==x,volume-opt=o=1,volume-driver=local,volume-subpath=sp", mount.Mount{
			Type: mount.TypeVolume, Target: "/v", VolumeOptions: &mount.VolumeOptions{
				Labels: map[string]string{"a": "b"}, Subpath: "sp",
				DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"o": "1"}},
			},
		}},
		{"type=tmpfs,target=/t,tmpfs-size=1g,tmpfs-mode=1777", mount.Mount{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 30, Mode: 0o1777}}},
		{"type=bind,target=/x,ro,bind-recursive=readonly,bind-propagation=RPRIVATE", mount.Mount{Type: mount.TypeBind, Target: "/x", ReadOnly: true,
			BindOptions: &mount.BindOptions{ReadOnlyForceRecursive: true, Propagation: mount.PropagationRPrivate}}},
		{"type=bind,target=/x,bind-recursive=disabled,bind-create-src", mount.Mount{Type: mount.TypeBind, Target: "/x",
			BindOptions: &mount.BindOptions{NonRecursive: true, CreateMountpoint: true}}},
		{"type=image,source=img,target=/x,image-subpath=/a", mount.Mount{Type: mount.TypeImage, Source: "img", Target: "/x", ImageOptions: &mount.ImageOptions{Subpath: "/a"}}},
		{`"target=/a,b"`, mount.Mount{Type: mount.TypeVolume, Target: "/a,b"}},
	} {
		var m MountOpt
		if err := m.Set(c.in); err != nil {
			t.Errorf("Set(%q): %v", c.in, err)
			continue
		}
		if got := m.Value(); len(got) != 1 || !reflect.DeepEqual(got[0], c.want) {
			t.Errorf("Set(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestMountOptErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                                               "value is empty",
		"type=bind, target=/x":                           "invalid option 'target' in ' target=/x': option should not have whitespace",
		"type=bind,target= /x":                           "invalid value for 'target' in 'target= /x': value should not have whitespace",
		"type=bind,target=":                              "invalid value for 'target': value is empty",
		"target":                                         "invalid field 'target' must be a key=value pair",
		"type=bind,bind-nonrecursive":                    "bind-nonrecursive is deprecated, use bind-recursive=disabled instead",
		"type=bind,bind-recursive=foo":                   `invalid value for bind-recursive: foo (must be "enabled", "disabled", "writable", or "readonly")`,
		"target=/x,ro=yes":                               `invalid value for 'ro': invalid boolean value ("yes"): must be one of "true", "1", "false", or "0" (default "true")`,
		"type=tmpfs,tmpfs-size=x":                        "invalid value for tmpfs-size: x",
		"type=tmpfs,tmpfs-mode=9":                        "invalid value for tmpfs-mode: 9",
		"foo=bar":                                        "unknown option 'foo' in 'foo=bar'",
		"type=volume,bind-propagation=shared":            "cannot mix 'bind-*' options with mount type 'volume'",
		"type=bind,volume-driver=x":                      "cannot mix 'volume-*' options with mount type 'bind'",
		"type=bind,image-subpath=/a":                     "cannot mix 'image-*' options with mount type 'bind'",
		"type=volume,tmpfs-size=1m":                      "cannot mix 'tmpfs-*' options with mount type 'volume'",
		"type=bind,target=/x,bind-recursive=writable":    "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction",
		"type=bind,target=/x,bind-recursive=readonly":    "option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction",
		"type=bind,target=/x,bind-recursive=readonly,ro": "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction",
		`"target=/x`:                                     `parse error on line 1, column 11: extraneous or missing " in quoted-field`,
	} {
		var m MountOpt
		if err := m.Set(in); errText(err) != want {
			t.Errorf("Set(%q) = %v, want %q", in, err, want)
		}
		if len(m.Value()) != 0 {
			t.Errorf("Set(%q) kept a mount", in)
		}
	}
}
