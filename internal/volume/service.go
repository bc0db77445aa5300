// Package volume is the local volume driver and the service around it:
// volumes under <data-root>/volumes/<name>/_data as Docker keeps them, their
// metadata beside the data, the references containers hold on them, and the
// mounts of volumes made with options (type=tmpfs, type=none,o=bind).
//
// Metadata lives in one file per volume (volumes/<name>/volume.json,
// written atomically) rather than in the bbolt store: the store belongs to
// the image service, and keeping a volume's metadata in its own directory
// makes a create one rename (a staged directory with _data and the file
// appears under its name at once) and a removal one rename (to a trash
// name) — a crash leaves either the whole volume or none of it, and the
// next start only has to delete staged and trashed directories.
package volume

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/volume"

	"github.com/gantry-dev/gantry/internal/atomicfile"
)

const (
	// DriverName is the only driver: Docker's "local".
	DriverName = "local"
	// AnonymousLabel marks a volume made without a name, as Docker marks
	// it; prune removes only these unless asked for all.
	AnonymousLabel = "com.docker.volume.anonymous"

	dataDir      = "_data"
	metaFile     = "volume.json"
	stagePrefix  = ".staging-"
	trashPrefix  = ".removed-"
	volumesDir   = "volumes"
	scopeLocal   = "local"
	dirMode      = 0o755
	volumesPerms = 0o701
)

// Publisher is where volume events go (the engine's event bus).
type Publisher interface {
	Publish(typ eventtypes.Type, action eventtypes.Action, id string, attrs map[string]string)
}

// Config is what the daemon gives the service.
type Config struct {
	DataRoot string // volumes/ lives here
	Events   Publisher
	Log      *slog.Logger
}

// Meta is what is kept about a volume, in volumes/<name>/volume.json.
type Meta struct {
	Name      string            `json:"name"`
	Driver    string            `json:"driver"`
	Labels    map[string]string `json:"labels,omitempty"`
	Options   map[string]string `json:"options,omitempty"`
	CreatedAt time.Time         `json:"createdAt"`
}

// entry is a volume in memory.
type entry struct {
	meta Meta
	// refs are the containers that use the volume (created or running):
	// a referenced volume cannot be removed.
	refs map[string]struct{}
	// users are the containers that have it mounted now; a volume with
	// mount options is mounted while there is one.
	users   map[string]struct{}
	mounted bool
}

// Service manages the local volumes of one data root.
type Service struct {
	root    string // <data-root>/volumes
	events  Publisher
	log     *slog.Logger
	pruning atomic.Bool

	mu   sync.Mutex
	vols map[string]*entry
}

// Open loads the volumes and repairs what a crash left: staged creates
// and removed volumes are deleted, a volume directory without metadata
// gets it, and a volume whose data directory is missing gets an empty one.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	s := &Service{
		root:   filepath.Join(cfg.DataRoot, volumesDir),
		events: cfg.Events,
		log:    cfg.Log,
		vols:   map[string]*entry{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if err := os.MkdirAll(s.root, volumesPerms); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(s.root)
	if err != nil {
		return nil, err
	}
	mounted := mountPoints()
	for _, de := range ents {
		name := de.Name()
		dir := filepath.Join(s.root, name)
		if strings.HasPrefix(name, stagePrefix) || strings.HasPrefix(name, trashPrefix) {
			if err := removeVolumeDir(dir, mounted); err != nil {
				s.log.Warn("removing what a volume create or removal left", "dir", dir, "err", err)
			}
			continue
		}
		if !de.IsDir() || validateName(name) != nil {
			s.log.Warn("ignoring an entry of the volumes directory that is not a volume", "name", name)
			continue
		}
		meta, err := s.repair(dir, name)
		if err != nil {
			s.log.Warn("skipping a volume that cannot be repaired", "name", name, "err", err)
			continue
		}
		e := &entry{meta: meta, refs: map[string]struct{}{}, users: map[string]struct{}{}}
		e.mounted = mounted[filepath.Join(dir, dataDir)]
		s.vols[name] = e
	}
	return s, nil
}

// repair reads a volume's metadata, making what is missing.
func (s *Service) repair(dir, name string) (Meta, error) {
	var meta Meta
	data, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err == nil {
		err = json.Unmarshal(data, &meta)
	}
	if err != nil || meta.Name != name {
		// A volume directory without (readable) metadata: from an older
		// layout, or put there by hand. It is adopted as a plain local
		// volume, created when its directory was.
		s.log.Warn("volume without metadata: adopting it as a local volume", "name", name, "err", err)
		meta = Meta{Name: name, Driver: DriverName, CreatedAt: time.Now().UTC()}
		if st, serr := os.Stat(dir); serr == nil {
			meta.CreatedAt = st.ModTime().UTC()
		}
		if err := writeMeta(dir, meta); err != nil {
			return meta, err
		}
	}
	if meta.Driver == "" {
		meta.Driver = DriverName
	}
	data2 := filepath.Join(dir, dataDir)
	if _, err := os.Lstat(data2); errors.Is(err, os.ErrNotExist) {
		s.log.Warn("volume without its data directory: making an empty one", "name", name)
		if err := os.Mkdir(data2, dirMode); err != nil {
			return meta, err
		}
	} else if err != nil {
		return meta, err
	}
	return meta, nil
}

func writeMeta(dir string, meta Meta) error {
	data, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, metaFile), data, 0o600)
}

// Path is where a volume's data is on the host.
func (s *Service) Path(name string) string { return filepath.Join(s.root, name, dataDir) }

func (s *Service) toAPI(e *entry) volume.Volume {
	return volume.Volume{
		Name:       e.meta.Name,
		Driver:     e.meta.Driver,
		Labels:     cloneMap(e.meta.Labels),
		Options:    cloneMap(e.meta.Options),
		Mountpoint: s.Path(e.meta.Name),
		CreatedAt:  e.meta.CreatedAt.Format(time.RFC3339),
		Scope:      scopeLocal,
	}
}

func (s *Service) publish(action eventtypes.Action, name string, attrs map[string]string) {
	if s.events == nil {
		return
	}
	if attrs == nil {
		attrs = map[string]string{}
	}
	if _, ok := attrs["driver"]; !ok && name != "" {
		attrs["driver"] = DriverName
	}
	s.events.Publish(eventtypes.VolumeEventType, action, name, attrs)
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// opErr words an error as Docker's volume store does: "OP NAME: ERR".
func opErr(op, name string, err error) error {
	return &wrapped{msg: fmt.Sprintf("%s %s: %v", op, name, err), cause: err}
}

type wrapped struct {
	msg   string
	cause error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.cause }
