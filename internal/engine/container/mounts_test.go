package container

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseBind(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want MountPoint
		err  string
	}{
		{raw: "/h:/c", want: MountPoint{Type: "bind", Source: "/h", Destination: "/c", RW: true, Propagation: "rprivate", CreateSource: true}},
		{raw: "/h/../h2/:/c/:ro,rshared", want: MountPoint{Type: "bind", Source: "/h2", Destination: "/c", Mode: "ro,rshared", Propagation: "rshared", CreateSource: true}},
		{raw: "vol:/data", want: MountPoint{Type: "volume", Name: "vol", Destination: "/data", Driver: "local", Mode: "z", RW: true, CopyData: true}},
		{raw: "vol:/data:ro,nocopy", want: MountPoint{Type: "volume", Name: "vol", Destination: "/data", Driver: "local", Mode: "ro,nocopy"}},
		{raw: "/anon", want: MountPoint{Type: "volume", Destination: "/anon", Driver: "local", RW: true, CopyData: true, Anonymous: true}},
		{raw: "/foo:rw", err: "invalid volume specification: '/foo:rw'"},
		{raw: "a:b:c:d", err: "invalid volume specification: 'a:b:c:d'"},
		{raw: ":/x", err: "invalid volume specification: ':/x'"},
		{raw: "v:/x:rw,ro", err: "invalid mode: rw,ro"},
		{raw: "v:/x:bogus", err: "invalid mode: bogus"},
		{raw: "v:rel", err: `invalid volume specification: 'v:rel': invalid mount config for type "volume": invalid mount path: 'rel' mount path must be absolute`},
		{raw: "/h:/", err: `invalid mount config for type "bind": invalid specification: destination can't be '/'`},
	} {
		got, err := parseBind(c.raw, "")
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want %q", c.raw, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.raw, err)
			continue
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%s: (-want +got)\n%s", c.raw, d)
		}
	}
}

func TestParseMountSpec(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		m    mount.Mount
		want MountPoint
		err  string
	}{
		{"bind", mount.Mount{Type: "bind", Source: dir, Target: "/b", ReadOnly: true},
			MountPoint{Type: "bind", Source: dir, Destination: "/b", Propagation: "rprivate"}, ""},
		{"missing bind source", mount.Mount{Type: "bind", Source: "/does/not/exist", Target: "/b"},
			MountPoint{}, `invalid mount config for type "bind": bind source path does not exist: /does/not/exist`},
		{"bind-create-src", mount.Mount{Type: "bind", Source: "/does/not/exist", Target: "/b", BindOptions: &mount.BindOptions{CreateMountpoint: true}},
			MountPoint{Type: "bind", Source: "/does/not/exist", Destination: "/b", RW: true, Propagation: "rprivate", CreateSource: true}, ""},
		{"bad propagation", mount.Mount{Type: "bind", Source: dir, Target: "/b", BindOptions: &mount.BindOptions{Propagation: "sideways"}},
			MountPoint{}, "invalid propagation mode: sideways"},
		{"volume", mount.Mount{Type: "volume", Source: "v1", Target: "/v", VolumeOptions: &mount.VolumeOptions{NoCopy: true, Labels: map[string]string{"a": "b"}}},
			MountPoint{Type: "volume", Name: "v1", Destination: "/v", Driver: "local", Mode: "z", RW: true, VolumeLabels: map[string]string{"a": "b"}}, ""},
		{"anonymous ro", mount.Mount{Type: "volume", Target: "/v", ReadOnly: true}, MountPoint{}, "must not set ReadOnly mode when using anonymous volumes"},
		{"volume with bind options", mount.Mount{Type: "volume", Target: "/v", BindOptions: &mount.BindOptions{}}, MountPoint{}, "field BindOptions must not be specified"},
		{"tmpfs", mount.Mount{Type: "tmpfs", Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 2 << 20, Mode: 0o1770}},
			MountPoint{Type: "tmpfs", Destination: "/t", RW: true, TmpfsData: "mode=1770,size=2m"}, ""},
		{"tmpfs with a source", mount.Mount{Type: "tmpfs", Source: "x", Target: "/t"}, MountPoint{}, "field Source must not be specified"},
		{"no target", mount.Mount{Type: "volume", Source: "v"}, MountPoint{}, `invalid mount config for type "volume": field Target must not be empty`},
		{"unknown type", mount.Mount{Type: "weird", Target: "/x"}, MountPoint{}, `invalid mount config for type "weird": mount type unknown`},
	} {
		got, err := parseMountSpec(c.m)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%s: (-want +got)\n%s", c.name, d)
		}
	}
}

func TestPlanMounts(t *testing.T) {
	s := &Service{byID: map[string]*entry{}, byName: map[string]string{}}
	rec := &Record{
		Config: &container.Config{Volumes: map[string]struct{}{"/data": {}, "/named": {}, "/cache/": {}}},
		HostConfig: &container.HostConfig{
			Binds:  []string{"named:/named", "/host:/h:ro"},
			Mounts: []mount.Mount{{Type: "tmpfs", Target: "/t"}},
			Tmpfs:  map[string]string{"/cache": "size=1m"},
		},
	}
	mps, err := s.planMounts(rec)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mp := range mps {
		got = append(got, string(mp.Type)+":"+mp.Name+":"+mp.Destination)
	}
	// /named comes from -v only; /cache is the tmpfs's; /data is the image's.
	want := []string{"volume::/data", "bind::/h", "volume:named:/named", "tmpfs::/t"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	rec.HostConfig.Binds = []string{"a1:/x", "/y:/x"}
	if _, err := s.planMounts(rec); err == nil || err.Error() != "Duplicate mount point: /x" {
		t.Errorf("duplicate: %v", err)
	}
	rec.HostConfig.Binds = []string{"bad/name:/x"}
	if _, err := s.planMounts(rec); err == nil || !strings.HasPrefix(err.Error(), `create bad/name: "bad/name" includes invalid characters`) {
		t.Errorf("bad name: %v", err)
	}
}

func TestUserMountsOrderAndDefaults(t *testing.T) {
	rec := &Record{HostConfig: &container.HostConfig{Tmpfs: map[string]string{"/dev/shm": "size=1m"}}, Mounts: []MountPoint{
		{Type: "bind", Source: "/a", Destination: "/x/y/z", RW: true},
		{Type: "volume", Source: "/v", Destination: "/x", RW: false},
		{Type: "bind", Source: "/h", Destination: "/etc/hosts", RW: true, Propagation: "rslave"},
	}}
	user, err := userMounts(rec)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, m := range user {
		order = append(order, m.Destination+" "+strings.Join(m.Options, ","))
	}
	ro := "/x rbind,rprivate,ro"
	if mountSetattr() {
		ro += ",rro"
	}
	want := []string{ro, "/dev/shm nosuid,nodev,noexec,size=1m", "/etc/hosts rbind,rslave", "/x/y/z rbind,rprivate"}
	if d := cmp.Diff(want, order); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	defaults := []specs.Mount{{Destination: "/proc"}, {Destination: "/dev/shm"}, {Destination: "/etc/hosts"}, {Destination: "/etc/hostname"}}
	all := withUserMounts(defaults, user)
	var dests []string
	for _, m := range all {
		dests = append(dests, m.Destination)
	}
	if d := cmp.Diff([]string{"/proc", "/etc/hostname", "/x", "/dev/shm", "/etc/hosts", "/x/y/z"}, dests); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}
