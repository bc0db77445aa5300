package cli

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"
)

// parseRunFlags reads run's flags as the command does and returns the
// create request, or the first error (flag syntax or value).
func parseRunFlags(t *testing.T, args ...string) (*containerConfig, error) {
	t.Helper()
	f := pflag.NewFlagSet("run", pflag.ContinueOnError)
	f.SetOutput(new(strings.Builder))
	f.SetInterspersed(false)
	var o runOptions
	f.BoolVarP(&o.detach, "detach", "d", false, "")
	f.StringVar(&o.detachKeys, "detach-keys", "", "")
	o.createOptions.addFlags(f, "running")
	co := addContainerFlags(f)
	if err := f.Parse(args); err != nil {
		return nil, err
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	rest := f.Args()
	if len(rest) == 0 {
		t.Fatal("no image in the arguments")
	}
	co.image, co.args = rest[0], rest[1:]
	return co.parse(f)
}

func ptr[T any](v T) *T { return &v }

func TestParseRunFlags(t *testing.T) {
	t.Setenv("FROM_ENV", "hello")
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	if err := os.WriteFile(envFile, []byte("# comment\nFILE_A=1\nFILE_B=two words\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	labelFile := filepath.Join(dir, "labels")
	if err := os.WriteFile(labelFile, []byte("team=core\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cwd, _ := os.Getwd()
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, c *containerConfig)
	}{
		{"image and command", []string{"busybox", "echo", "-n", "hi"}, func(t *testing.T, c *containerConfig) {
			eq(t, c.Config.Image, "busybox")
			eq(t, c.Config.Cmd, []string{"echo", "-n", "hi"})
			eq(t, c.Config.AttachStdout, true)
			eq(t, c.Config.AttachStderr, true)
			eq(t, c.Config.AttachStdin, false)
			eq(t, c.HostConfig.NetworkMode, container.NetworkMode("default"))
			eq(t, len(c.NetworkingConfig.EndpointsConfig), 1) // "default", as docker sends it
			eq(t, c.HostConfig.RestartPolicy, container.RestartPolicy{Name: "no"})
		}},
		{"environment", []string{"-e", "A=1", "-e", "FROM_ENV", "--env-file", envFile, "busybox"}, func(t *testing.T, c *containerConfig) {
			eq(t, c.Config.Env, []string{"FILE_A=1", "FILE_B=two words", "A=1", "FROM_ENV=hello"})
		}},
		{"labels", []string{"-l", "a=b", "--label", "c", "--label-file", labelFile, "busybox"}, func(t *testing.T, c *containerConfig) {
			eq(t, c.Config.Labels, map[string]string{"a": "b", "c": "", "team": "core"})
		}},
		{"process", []string{"-u", "1000:1000", "-w", "/tmp", "-h", "box", "--entrypoint", "/bin/sh", "--stop-signal", "SIGUSR1", "--stop-timeout", "5", "busybox"}, func(t *testing.T, c *containerConfig) {
			eq(t, c.Config.User, "1000:1000")
			eq(t, c.Config.WorkingDir, "/tmp")
			eq(t, c.Config.Hostname, "box")
			eq(t, c.Config.Entrypoint, []string{"/bin/sh"})
			eq(t, c.Config.StopSignal, "SIGUSR1")
			eq(t, c.Config.StopTimeout, ptr(5))
		}},
		{"empty entrypoint resets", []string{"--entrypoint=", "busybox"}, func(t *testing.T, c *containerConfig) {
			eq(t, c.Config.Entrypoint, []string{""})
		}},
		{"interactive tty", []string{"-i", "-t", "busybox"}, func(t *testing.T, c *containerConfig) {
			eq(t, c.Config.Tty, true)
			eq(t, c.Config.OpenStdin, true)
			eq(t, c.Config.AttachStdin, true)
			eq(t, c.Config.StdinOnce, true)
		}},
		{"attach stderr only", []string{"-a", "STDERR", "busybox"}, func(t *testing.T, c *containerConfig) {
			eq(t, c.Config.AttachStdout, false)
			eq(t, c.Config.AttachStderr, true)
		}},
		{"security", []string{"--privileged", "--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--security-opt", "systempaths=unconfined", "--read-only", "--init", "busybox"}, func(t *testing.T, c *containerConfig) {
			h := c.HostConfig
			eq(t, h.Privileged, true)
			eq(t, h.CapAdd, []string{"NET_ADMIN"})
			eq(t, h.CapDrop, []string{"ALL"})
			eq(t, h.SecurityOpt, []string{"no-new-privileges"})
			eq(t, h.MaskedPaths, []string{})
			eq(t, h.ReadonlyPaths, []string{})
			eq(t, h.ReadonlyRootfs, true)
			eq(t, h.Init, ptr(true))
		}},
		{"init unset stays nil", []string{"busybox"}, func(t *testing.T, c *containerConfig) {
			eq(t, c.HostConfig.Init, (*bool)(nil))
		}},
		{"resources", []string{"-m", "1g", "--memory-swap", "-1", "--cpus", "1.5", "--cpu-shares", "512", "--pids-limit", "100", "--shm-size", "64m", "--ulimit", "nofile=1024:2048", "busybox"}, func(t *testing.T, c *containerConfig) {
			r := c.HostConfig.Resources
			eq(t, r.Memory, int64(1<<30))
			eq(t, r.MemorySwap, int64(-1))
			eq(t, r.NanoCPUs, int64(1_500_000_000))
			eq(t, r.CPUShares, int64(512))
			eq(t, r.PidsLimit, ptr(int64(100)))
			eq(t, c.HostConfig.ShmSize, int64(64<<20))
			eq(t, r.Ulimits, []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}})
		}},
		{"restart and logs", []string{"--restart", "on-failure:3", "--log-driver", "json-file", "--log-opt", "max-size=1m", "busybox"}, func(t *testing.T, c *containerConfig) {
			eq(t, c.HostConfig.RestartPolicy, container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3})
			eq(t, c.HostConfig.LogConfig, container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m"}})
		}},
		{"ports", []string{"-p", "8080:80", "-p", "127.0.0.1:5353:53/udp", "-p", "9000", "--expose", "7000-7001", "-P", "busybox"}, func(t *testing.T, c *containerConfig) {
			eq(t, c.HostConfig.PublishAllPorts, true)
			eq(t, c.HostConfig.PortBindings, network.PortMap{
				network.MustParsePort("80/tcp"):   {{HostPort: "8080"}},
				network.MustParsePort("53/udp"):   {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "5353"}},
				network.MustParsePort("9000/tcp"): {{}},
			})
			eq(t, c.Config.ExposedPorts, network.PortSet{
				network.MustParsePort("80/tcp"): {}, network.MustParsePort("53/udp"): {}, network.MustParsePort("9000/tcp"): {},
				network.MustParsePort("7000/tcp"): {}, network.MustParsePort("7001/tcp"): {},
			})
		}},
		{"volumes", []string{"-v", "/host:/ctr:ro", "-v", "named:/data", "-v", "/anon", "-v", "./rel:/x", "--tmpfs", "/run:size=1m", "busybox"}, func(t *testing.T, c *containerConfig) {
			eq(t, c.HostConfig.Binds, []string{"/host:/ctr:ro", "named:/data", filepath.Join(cwd, "rel") + ":/x"})
			eq(t, c.Config.Volumes, map[string]struct{}{"/anon": {}})
			eq(t, c.HostConfig.Tmpfs, map[string]string{"/run": "size=1m"})
		}},
		{"mount", []string{"--mount", "type=bind,src=/a,dst=/b,readonly", "busybox"}, func(t *testing.T, c *containerConfig) {
			eq(t, c.HostConfig.Mounts, []mount.Mount{{Type: mount.TypeBind, Source: "/a", Target: "/b", ReadOnly: true}})
		}},
		{"network", []string{"--network", "none", "--dns", "1.1.1.1", "--dns-search", "example.com", "--add-host", "db:10.0.0.2", "busybox"}, func(t *testing.T, c *containerConfig) {
			eq(t, c.HostConfig.NetworkMode, container.NetworkMode("none"))
			eq(t, len(c.NetworkingConfig.EndpointsConfig), 0)
			eq(t, c.HostConfig.DNS, []netip.Addr{netip.MustParseAddr("1.1.1.1")})
			eq(t, c.HostConfig.DNSSearch, []string{"example.com"})
			eq(t, c.HostConfig.ExtraHosts, []string{"db:10.0.0.2"})
		}},
		{"user-defined network with alias", []string{"--network", "app", "--network-alias", "web", "busybox"}, func(t *testing.T, c *containerConfig) {
			eq(t, c.HostConfig.NetworkMode, container.NetworkMode("app"))
			eq(t, c.NetworkingConfig.EndpointsConfig["app"].Aliases, []string{"web"})
		}},
		{"rm", []string{"--rm", "--name", "x", "busybox"}, func(t *testing.T, c *containerConfig) {
			eq(t, c.HostConfig.AutoRemove, true)
		}},
		{"flags after the image are the command's", []string{"busybox", "ls", "-m", "x"}, func(t *testing.T, c *containerConfig) {
			eq(t, c.Config.Cmd, []string{"ls", "-m", "x"})
			eq(t, c.HostConfig.Memory, int64(0))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseRunFlags(t, tt.args...)
			if err != nil {
				t.Fatalf("%v: %v", tt.args, err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseRunFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--memory=lots", "busybox"}, `invalid argument "lots" for "-m, --memory" flag: invalid size: 'lots'`},
		{[]string{"--restart=sometimes", "busybox"}, "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', 'unless-stopped', or 'on-unhealthy'"},
		{[]string{"--restart=always:3", "busybox"}, "invalid restart policy: maximum retry count can only be used with 'on-failure'"},
		{[]string{"-e", "=x", "busybox"}, `invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x`},
		{[]string{"--pull=sometimes", "busybox"}, `invalid pull option: 'sometimes': must be one of "always", "missing" or "never"`},
		{[]string{"--cpus=abc", "busybox"}, `invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number`},
		{[]string{"--dns=notanip", "busybox"}, `invalid argument "notanip" for "--dns" flag: IP address is not correctly formatted: notanip`},
		{[]string{"-a", "stdweird", "busybox"}, `invalid argument "stdweird" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`},
		{[]string{"-v", "a::b", "busybox"}, "invalid spec: a::b: empty section between colons"},
		{[]string{"-v", "a:b:c:d", "busybox"}, "invalid spec: a:b:c:d: too many colons"},
		{[]string{"-p", "99999:80", "busybox"}, "invalid hostPort: 99999"},
		{[]string{"--rm", "--restart=always", "busybox"}, "conflicting options: cannot specify both --restart and --rm"},
		{[]string{"--log-driver=none", "--log-opt", "a=b", "busybox"}, "invalid logging opts for driver none"},
		{[]string{"--security-opt", "label", "busybox"}, `invalid --security-opt: "label"`},
		{[]string{"--memory-swappiness=101", "busybox"}, "invalid value: 101. Valid memory swappiness range is 0-100"},
		{[]string{"--network", "host", "--network", "app", "busybox"}, "conflicting options: cannot attach both user-defined and non-user-defined network-modes"},
		{[]string{"--network-alias", "x", "busybox"}, "network-scoped aliases are only supported for user-defined networks"},
		{[]string{"--mac-address", "zz", "busybox"}, "zz is not a valid mac address"},
		{[]string{"--no-healthcheck", "--health-cmd", "true", "busybox"}, "--no-healthcheck conflicts with --health-* options"},
		{[]string{"--platform", "linux", "busybox"}, `invalid platform "linux": use os/arch[/variant], e.g. linux/amd64`},
		{[]string{"--pid", "weird", "busybox"}, "--pid: invalid PID mode"},
		{[]string{"--device", "/dev/a:b", "busybox"}, "b is not an absolute path"},
	}
	for _, tt := range tests {
		_, err := parseRunFlags(t, tt.args...)
		if err == nil {
			t.Errorf("%v: no error, want %q", tt.args, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("%v:\n got %q\nwant %q", tt.args, err.Error(), tt.want)
		}
	}
}

func TestParseVolumeSpec(t *testing.T) {
	for _, tt := range []struct{ spec, source, rest string }{
		{"/data", "", "/data"},
		{"/h:/c", "/h", "/c"},
		{"/h:/c:ro,z", "/h", "/c:ro,z"},
		{"vol:/c", "vol", "/c"},
	} {
		source, rest, err := parseVolumeSpec(tt.spec)
		if err != nil || source != tt.source || rest != tt.rest {
			t.Errorf("parseVolumeSpec(%q) = %q, %q, %v; want %q, %q", tt.spec, source, rest, err, tt.source, tt.rest)
		}
	}
	if _, _, err := parseVolumeSpec(""); err == nil || err.Error() != "invalid empty volume spec" {
		t.Errorf("empty spec: %v", err)
	}
}

func TestParseDevice(t *testing.T) {
	for _, tt := range []struct {
		spec string
		want container.DeviceMapping
	}{
		{"/dev/fuse", container.DeviceMapping{PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm"}},
		{"/dev/fuse:r", container.DeviceMapping{PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "r"}},
		{"/dev/sda:/dev/xvda", container.DeviceMapping{PathOnHost: "/dev/sda", PathInContainer: "/dev/xvda", CgroupPermissions: "rwm"}},
		{"/dev/sda:/dev/xvda:rw", container.DeviceMapping{PathOnHost: "/dev/sda", PathInContainer: "/dev/xvda", CgroupPermissions: "rw"}},
	} {
		got, err := parseDevice(tt.spec)
		if err != nil || got != tt.want {
			t.Errorf("parseDevice(%q) = %+v, %v; want %+v", tt.spec, got, err, tt.want)
		}
	}
	if _, err := parseDevice("/dev/a:/dev/b:rwx"); err == nil || err.Error() != "bad mode specified: rwx" {
		t.Errorf("bad mode: %v", err)
	}
}

func eq[T any](t *testing.T, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}
