package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	goruntime "runtime"
	"strings"
	"time"

	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/system"
	"golang.org/x/sys/unix"

	enginecontainer "github.com/gantry-dev/gantry/internal/engine/container"
	"github.com/gantry-dev/gantry/internal/engine/events"
	"github.com/gantry-dev/gantry/internal/image"
)

// System is /_ping, /version, /info and /events.
type System struct {
	Version    string
	DataRoot   string
	Containers *enginecontainer.Service
	Images     *image.Service
	Events     *events.Bus
	LogDriver  string
	ID         string
}

func (s System) Routes() []Route {
	return []Route{
		{"GET", "/_ping", s.ping},
		{"GET", "/version", s.version},
		{"GET", "/info", s.info},
		{"GET", "/events", s.events},
	}
}

func (s System) ping(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	w.Header().Set("Builder-Version", "1")
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte("OK"))
	}
	return nil
}

func kernelVersion() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func (s System) version(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	return WriteJSON(w, http.StatusOK, system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "gantry"},
		Version:       s.Version,
		APIVersion:    APIVersion,
		MinAPIVersion: MinAPIVersion,
		Os:            "linux",
		Arch:          goruntime.GOARCH,
		GoVersion:     goruntime.Version(),
		KernelVersion: kernelVersion(),
		Components: []system.ComponentVersion{
			{Name: "Engine", Version: s.Version, Details: map[string]string{"ApiVersion": APIVersion, "MinAPIVersion": MinAPIVersion, "Os": "linux", "Arch": goruntime.GOARCH, "GoVersion": goruntime.Version(), "KernelVersion": kernelVersion()}},
		},
	})
}

func osName() string {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

func (s System) info(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	counts := s.Containers.Counts()
	images, err := s.Images.List(ctx, image.ListOptions{All: true})
	if err != nil {
		return err
	}
	var si unix.Sysinfo_t
	_ = unix.Sysinfo(&si)
	host, _ := os.Hostname()
	cgroupVersion := "1"
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		cgroupVersion = "2"
	}
	return WriteJSON(w, http.StatusOK, system.Info{
		ID:                 s.ID,
		Containers:         counts.Total,
		ContainersRunning:  counts.Running,
		ContainersPaused:   counts.Paused,
		ContainersStopped:  counts.Stopped,
		Images:             len(images),
		Driver:             "overlay2",
		DriverStatus:       [][2]string{{"Backing Filesystem", "extfs"}, {"Supports d_type", "true"}},
		MemoryLimit:        true,
		SwapLimit:          true,
		CPUCfsPeriod:       true,
		CPUCfsQuota:        true,
		CPUShares:          true,
		CPUSet:             true,
		PidsLimit:          true,
		IPv4Forwarding:     true,
		OomKillDisable:     cgroupVersion == "1",
		NFd:                0,
		NGoroutines:        goruntime.NumGoroutine(),
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		LoggingDriver:      s.LogDriver,
		CgroupDriver:       "cgroupfs",
		CgroupVersion:      cgroupVersion,
		KernelVersion:      kernelVersion(),
		OperatingSystem:    osName(),
		OSType:             "linux",
		Architecture:       archName(),
		NCPU:               goruntime.NumCPU(),
		MemTotal:           int64(si.Totalram) * int64(si.Unit),
		DockerRootDir:      s.DataRoot,
		Name:               host,
		ServerVersion:      s.Version,
		DefaultRuntime:     "gantry",
		Runtimes:           map[string]system.RuntimeWithStatus{"gantry": {Runtime: system.Runtime{Path: "gantry runtime"}}},
		LiveRestoreEnabled: true,
		Isolation:          "",
		InitBinary:         "gantry",
		SecurityOptions:    []string{"name=seccomp,profile=builtin"},
	})
}

func archName() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return goruntime.GOARCH
	}
	return unix.ByteSliceToString(u.Machine[:])
}

// events streams the event bus as JSON lines, filtered as Docker does by
// type, container, event, image and label.
func (s System) events(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	since, err := parseTime(r, "since")
	if err != nil {
		return err
	}
	until, err := parseTime(r, "until")
	if err != nil {
		return err
	}
	filters, err := ParseFilters(r.FormValue("filters"))
	if err != nil {
		return err
	}
	past, ch, cancel := s.Events.Subscribe(since)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	enc := json.NewEncoder(w)
	emit := func(m eventtypes.Message) error {
		if !until.IsZero() && m.TimeNano > until.UnixNano() {
			return errStop
		}
		if !matchEvent(m, filters) {
			return nil
		}
		if err := enc.Encode(m); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	for _, m := range past {
		if err := emit(m); err != nil {
			return nil
		}
	}
	var timer <-chan time.Time
	if !until.IsZero() {
		timer = time.After(time.Until(until))
	}
	for {
		select {
		case m := <-ch:
			if err := emit(m); err != nil {
				return nil
			}
		case <-timer:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

var errStop = &stopError{}

type stopError struct{}

func (*stopError) Error() string { return "stop" }

// matchEvent applies Docker's event filters: type, event (an action, or
// its part before ':'), scope, label; container, volume and network match
// an actor's ID or name by prefix, whatever the event's type; image
// matches an image event's ID or name, or a container's image, with or
// without the tag.
func matchEvent(m eventtypes.Message, f map[string][]string) bool {
	match := func(key string, prefix bool, vals ...string) bool {
		want := f[key]
		if len(want) == 0 {
			return true
		}
		for _, w := range want {
			for _, v := range vals {
				if v != "" && (w == v || (prefix && strings.HasPrefix(v, w))) {
					return true
				}
			}
		}
		return false
	}
	id, name := m.Actor.ID, m.Actor.Attributes["name"]
	imageName := m.Actor.Attributes["image"]
	if m.Type == eventtypes.ImageEventType {
		imageName = name
	}
	scope := m.Scope
	if scope == "" {
		scope = "local"
	}
	if !match("type", false, string(m.Type)) ||
		!match("event", false, string(m.Action), strings.SplitN(string(m.Action), ":", 2)[0]) ||
		!match("scope", false, scope) ||
		!match("container", true, id, name) ||
		!match("volume", true, id, name) ||
		!match("network", true, id, name) ||
		!match("image", false, id, imageName, stripTag(id), stripTag(imageName)) {
		return false
	}
	for _, l := range f["label"] {
		k, v, hasValue := strings.Cut(l, "=")
		got, ok := m.Actor.Attributes[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}

// stripTag is an image reference without its tag ("busybox:1" → "busybox").
func stripTag(ref string) string {
	if strings.HasPrefix(ref, "sha256:") {
		return ref
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") && !strings.Contains(ref, "@") {
		return ref[:i]
	}
	return ref
}

// backingFS names the filesystem under the data root, as Docker reports it.
func backingFS(dir string) string {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return "unknown"
	}
	switch st.Type {
	case unix.EXT4_SUPER_MAGIC:
		return "extfs"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	}
	return fmt.Sprintf("0x%x", st.Type)
}

func fileIs(path, want string) bool {
	data, err := os.ReadFile(path)
	return err == nil && strings.TrimSpace(string(data)) == want
}

// swapLimit tells whether memory+swap can be limited: v2 always, v1 with
// the memsw files.
func swapLimit(cgroupVersion string) bool {
	if cgroupVersion == "2" {
		return true
	}
	_, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
	return err == nil
}
