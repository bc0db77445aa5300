// Package container is the container service: the records of containers,
// their state machine, and the work of creating, starting, stopping and
// removing them through per-container shims.
package container

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/go-digest"

	"github.com/gantry-dev/gantry/internal/atomicfile"
	"github.com/gantry-dev/gantry/internal/network"
)

// Record is what gantry keeps about a container, in
// containers/<id>/container.json under the data root.
type Record struct {
	ID           string                `json:"id"`
	Name         string                `json:"name"` // without Docker's leading '/'
	Created      time.Time             `json:"created"`
	Image        string                `json:"image"` // as the user named it
	ImageID      digest.Digest         `json:"imageID"`
	Layer        digest.Digest         `json:"layer,omitempty"` // the image's top chain ID, "" for an empty image
	Path         string                `json:"path"`
	Args         []string              `json:"args"`
	Config       *container.Config     `json:"config"`
	HostConfig   *container.HostConfig `json:"hostConfig"`
	State        State                 `json:"state"`
	RestartCount int                   `json:"restartCount,omitempty"`
	// ManualStop is set by stop and kill so a restart policy leaves the
	// container down, as Docker does.
	ManualStop bool `json:"manualStop,omitempty"`
	// Mounts are the container's volumes, binds and --mount tmpfs, as
	// decided at its create (mounts.go).
	Mounts []MountPoint `json:"mounts,omitempty"`
	// Network is the container's endpoint on the bridge while it runs.
	Network *network.Endpoint `json:"network,omitempty"`
	// MacAddress is the MAC asked for at create (--mac-address).
	MacAddress string `json:"macAddress,omitempty"`
	// IP and Aliases are --ip and --alias, for a user network.
	IP      netip.Addr `json:"ip,omitzero"`
	Aliases []string   `json:"aliases,omitempty"`
	// NetworkDisconnected is set by `network disconnect` of a container
	// that is not running; it runs with loopback only until a connect.
	NetworkDisconnected bool `json:"networkDisconnected,omitempty"`
	// Connections are the networks connected beyond the first; Extra are
	// their endpoints while it runs (hotplug.go).
	Connections []Connection        `json:"connections,omitempty"`
	Extra       []*network.Endpoint `json:"extraNetworks,omitempty"`
	// Joined is the container whose network it shares (joined.go).
	Joined *Joined `json:"joined,omitempty"`
}

// State is a container's place in Docker's state machine.
type State struct {
	Status     container.ContainerState `json:"status"`
	Pid        int                      `json:"pid,omitempty"`
	ExitCode   int                      `json:"exitCode"`
	Error      string                   `json:"error,omitempty"`
	OOMKilled  bool                     `json:"oomKilled,omitempty"`
	StartedAt  time.Time                `json:"startedAt,omitzero"`
	FinishedAt time.Time                `json:"finishedAt,omitzero"`
	Health     *container.Health        `json:"health,omitempty"` // with a health check
}

// Running tells whether the container's process is alive (running or
// paused).
func (s State) Running() bool {
	return s.Status == container.StateRunning || s.Status == container.StatePaused
}

// entry is a container in memory: its record and what serialises changes
// to it.
type entry struct {
	mu  sync.Mutex // held across a state change
	rec Record

	// exited is closed and replaced each time the process exits; waiters
	// for "next-exit" take the current one.
	exited chan struct{}
	// removed is closed when the container is gone.
	removed chan struct{}
	execs   map[string]*execRecord
	// pending are attaches waiting for the next start.
	pending []*attachWait
	restart restartState // the restart policy's back-off
	// removing is set by a forced removal before it kills the process:
	// the exit it causes need not reach the disk, the record is about to
	// go, and leaves the root filesystem to the removal (rootfsLeft).
	removing   bool
	rootfsLeft bool
}

const recordFile = "container.json"

// save writes the record atomically: temp file, fsync, rename.
func save(dir string, rec *Record) error { return saveWith(atomicfile.Write, dir, rec) }

// saveUnsynced writes the record atomically without waiting for the disk:
// for a state a crash may lose, because the next start finds it again.
func saveUnsynced(dir string, rec *Record) error { return saveWith(atomicfile.WriteUnsynced, dir, rec) }

func saveWith(write func(string, []byte, os.FileMode) error, dir string, rec *Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return write(filepath.Join(dir, recordFile), data, 0o600)
}

func load(dir string) (Record, error) {
	var rec Record
	data, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		return rec, err
	}
	err = json.Unmarshal(data, &rec)
	return rec, err
}
