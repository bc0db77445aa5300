package container

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"

	"github.com/gantry-dev/gantry/internal/engine/events"
	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/image"
	"github.com/gantry-dev/gantry/internal/logger"
	"github.com/gantry-dev/gantry/internal/runtime"
	"github.com/gantry-dev/gantry/internal/shim"
	"github.com/gantry-dev/gantry/internal/snapshot"
	"github.com/gantry-dev/gantry/internal/volume"
)

// Config is what the daemon gives the service.
type Config struct {
	DataRoot string // containers/ lives here
	ExecRoot string // containers/<id>/ bundles and shim sockets, runtime/ state
	ShimExe  string // the gantry binary, run as `gantry shim`
	Images   *image.Service
	Volumes  *volume.Service // nil: no volumes (-v name:/path, --mount type=volume)
	Events   *events.Bus
	Log      *slog.Logger
	// LogConfig is the default log driver and options (daemon.json).
	LogConfig logger.Config
	// DefaultUlimits apply when a container sets none of that name.
	DefaultUlimits []*container.Ulimit
	// CgroupParent is the cgroup under which containers' cgroups are made
	// ("/gantry" unless set).
	CgroupParent string
	// Network is the default bridge; nil leaves bridge containers with
	// a namespace of their own and only lo.
	Network Network
}

// Service manages the containers of one data root.
type Service struct {
	cfg     Config
	dir     string // <data-root>/containers
	runDir  string // <exec-root>/containers
	rt      *runtime.Runtime
	shims   *shim.Launcher
	snaps   *snapshot.Snapshotter
	images  *image.Service
	events  *events.Bus
	log     *slog.Logger
	ctx     context.Context // lives as long as the service: monitors use it
	stopAll context.CancelFunc

	deleting sync.WaitGroup // removed containers' files being deleted

	mu     sync.RWMutex
	byID   map[string]*entry
	byName map[string]string // name → ID
	execs  map[string]*execRecord

	stats statsSampler // the previous CPU reading of each running container
}

// Open loads the containers of the data root and finds the running ones
// again: a container whose shim is alive is monitored as before; one whose
// shim is gone exited meanwhile and gets the exit its shim recorded.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	s := &Service{
		cfg:    cfg,
		dir:    filepath.Join(cfg.DataRoot, "containers"),
		runDir: filepath.Join(cfg.ExecRoot, "containers"),
		snaps:  cfg.Images.Snapshots(),
		images: cfg.Images,
		events: cfg.Events,
		log:    cfg.Log,
		byID:   map[string]*entry{},
		byName: map[string]string{},
		execs:  map[string]*execRecord{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.cfg.CgroupParent == "" {
		s.cfg.CgroupParent = "/gantry"
	}
	if s.cfg.LogConfig.Driver == "" {
		s.cfg.LogConfig.Driver = "json-file"
	}
	for _, d := range []string{s.dir, s.runDir} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, err
		}
	}
	rt, err := runtime.New(filepath.Join(cfg.ExecRoot, "runtime"))
	if err != nil {
		return nil, err
	}
	s.rt = rt
	s.shims = shim.NewLauncher(cfg.ShimExe, cfg.ExecRoot)
	go s.shims.Prepare()
	s.ctx, s.stopAll = context.WithCancel(context.Background())
	s.clearTemporaryMounts()
	if err := s.restore(ctx); err != nil {
		return nil, err
	}
	if err := s.reconcileNetwork(ctx); err != nil {
		return nil, err
	}
	go s.sampleLoop(s.ctx)
	s.restartAtBoot(s.ctx)
	return s, nil
}

// Close stops watching the containers; they keep running (live restore).
func (s *Service) Close() {
	s.stopAll()
	s.shims.Close()
	s.deleting.Wait()
}

func (s *Service) restore(ctx context.Context) error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	s.restoreVolumes(ctx, ents)
	var remove []string
	for _, de := range ents {
		dir := filepath.Join(s.dir, de.Name())
		if id, ok := strings.CutPrefix(de.Name(), removedPrefix); ok {
			// Removed before a crash; only its files were left.
			s.finishRemoval(id)
			continue
		}
		rec, err := load(dir)
		if err != nil {
			// A create that crashed before its record was written.
			s.log.Warn("removing an incomplete container", "id", de.Name(), "err", err)
			s.discardFiles(de.Name())
			continue
		}
		legacyMounts(&rec)
		e := &entry{rec: rec, exited: make(chan struct{}), removed: make(chan struct{}), execs: map[string]*execRecord{}}
		s.byID[rec.ID] = e
		s.byName[rec.Name] = rec.ID
		switch {
		case rec.State.Running():
			s.reattach(e)
			if !e.rec.State.Running() && rec.HostConfig.AutoRemove {
				// As Docker: a --rm container that exited while no
				// daemon watched it goes now.
				remove = append(remove, rec.ID)
			}
		case rec.State.Status == container.StateRemoving || rec.State.Status == container.StateDead:
			remove = append(remove, rec.ID)
		}
	}
	// Once every container is known (the maps are filled without a lock).
	for _, id := range remove {
		go func() {
			if err := s.Remove(ctx, id, RemoveOptions{Force: true, Volumes: true}); err != nil {
				s.log.Warn("removing a container at start", "id", id, "err", err)
			}
		}()
	}
	return nil
}

// reattach picks up a container that was running when the daemon went
// away.
func (s *Service) reattach(e *entry) {
	id := e.rec.ID
	if _, err := os.Stat(s.socketPath(id)); err == nil {
		go s.monitor(e)
		return
	}
	// The shim is gone: the container exited (its shim left the exit) or
	// the machine restarted (nothing left: Docker reports 255 then).
	exit, err := shim.ReadExitFile(s.exitFile(id))
	if err != nil {
		exit.ExitCode = 255
	}
	s.exitedWith(e, exit)
}

// lookup finds a container by full ID, name (with or without '/') or
// unique ID prefix, as Docker does.
func (s *Service) lookup(ref string) (*entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lookupLocked(ref)
}

func (s *Service) lookupLocked(ref string) (*entry, error) {
	if ref == "" {
		return nil, errdefs.NotFound("No such container: %s", ref)
	}
	if e, ok := s.byID[ref]; ok {
		return e, nil
	}
	if id, ok := s.byName[strings.TrimPrefix(ref, "/")]; ok {
		return s.byID[id], nil
	}
	var found *entry
	for id, e := range s.byID {
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, errdefs.Invalid("multiple IDs found with provided prefix: %s", ref)
			}
			found = e
		}
	}
	if found == nil {
		return nil, errdefs.NotFound("No such container: %s", ref)
	}
	return found, nil
}

// all returns the containers, newest first.
func (s *Service) all() []*entry {
	s.mu.RLock()
	list := make([]*entry, 0, len(s.byID))
	for _, e := range s.byID {
		list = append(list, e)
	}
	s.mu.RUnlock()
	sort.Slice(list, func(i, j int) bool { return list[i].rec.Created.After(list[j].rec.Created) })
	return list
}

// ImageInUse tells the image service whether a container uses an image,
// and which.
func (s *Service) ImageInUse(id digest.Digest) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.byID {
		if e.rec.ImageID == id {
			return e.rec.ID, true
		}
	}
	return "", false
}

func (s *Service) containerDir(id string) string { return filepath.Join(s.dir, id) }
func (s *Service) bundleDir(id string) string    { return filepath.Join(s.runDir, id) }
func (s *Service) socketPath(id string) string   { return filepath.Join(s.runDir, id, "shim.sock") }
func (s *Service) exitFile(id string) string     { return filepath.Join(s.dir, id, "exit.json") }

func (s *Service) publish(action eventtypes.Action, rec *Record, extra map[string]string) {
	if s.events == nil {
		return
	}
	attrs := map[string]string{"name": rec.Name, "image": rec.Image}
	if rec.Config != nil {
		for k, v := range rec.Config.Labels {
			attrs[k] = v
		}
	}
	for k, v := range extra {
		attrs[k] = v
	}
	s.events.Publish(eventtypes.ContainerEventType, action, rec.ID, attrs)
}

// persist saves e's record; the caller holds e.mu.
func (s *Service) persist(e *entry) error {
	if err := save(s.containerDir(e.rec.ID), &e.rec); err != nil {
		return errors.Join(errors.New("saving the container's state"), err)
	}
	return nil
}

// Counts is how many containers there are in each state, for /info.
type Counts struct{ Total, Running, Paused, Stopped int }

// Counts counts the containers by state.
func (s *Service) Counts() Counts {
	var c Counts
	for _, e := range s.all() {
		e.mu.Lock()
		st := e.rec.State.Status
		e.mu.Unlock()
		c.Total++
		switch st {
		case container.StateRunning:
			c.Running++
		case container.StatePaused:
			c.Paused++
		default:
			c.Stopped++
		}
	}
	return c
}
