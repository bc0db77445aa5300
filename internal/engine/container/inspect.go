package container

import (
	"context"
	"path/filepath"
	"slices"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/storage"

	"github.com/gantry-dev/gantry/internal/logger"
)

// Inspect returns Docker's inspect document for a container.
func (s *Service) Inspect(ctx context.Context, ref string, size bool) (*container.InspectResponse, error) {
	e, err := s.lookup(ref)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	rec := e.rec
	var execIDs []string
	for id := range e.execs {
		execIDs = append(execIDs, id)
	}
	slices.SortFunc(execIDs, func(a, b string) int { return e.execs[a].created.Compare(e.execs[b].created) })
	e.mu.Unlock()
	dir := s.containerDir(rec.ID)
	st := rec.State
	resp := &container.InspectResponse{
		ID:      rec.ID,
		Created: rec.Created.Format(time.RFC3339Nano),
		Path:    rec.Path,
		Args:    rec.Args,
		State: &container.State{
			Status:     st.Status,
			Running:    st.Status == container.StateRunning || st.Status == container.StatePaused || st.Status == container.StateRestarting,
			Paused:     st.Status == container.StatePaused,
			Restarting: st.Status == container.StateRestarting,
			OOMKilled:  st.OOMKilled,
			Dead:       st.Status == container.StateDead,
			Pid:        st.Pid,
			ExitCode:   st.ExitCode,
			Error:      st.Error,
			StartedAt:  dockerTime(st.StartedAt),
			FinishedAt: dockerTime(st.FinishedAt),
			Health:     st.Health,
		},
		Image:          string(rec.ImageID),
		ResolvConfPath: filepath.Join(dir, "resolv.conf"),
		HostnamePath:   filepath.Join(dir, "hostname"),
		HostsPath:      filepath.Join(dir, "hosts"),
		LogPath:        logPathOf(dir, &rec),
		Name:           "/" + rec.Name,
		RestartCount:   rec.RestartCount,
		Driver:         "overlay2",
		Platform:       "linux",
		ExecIDs:        execIDs,
		HostConfig:     rec.HostConfig,
		GraphDriver: &storage.DriverData{Name: "overlay2", Data: map[string]string{
			"UpperDir":  filepath.Join(s.cfg.DataRoot, "snapshots", "active", rec.ID, "fs"),
			"WorkDir":   filepath.Join(s.cfg.DataRoot, "snapshots", "active", rec.ID, "work"),
			"MergedDir": filepath.Join(s.bundleDir(rec.ID), "rootfs"),
		}},
		Mounts:          apiMountPoints(&rec),
		Config:          rec.Config,
		NetworkSettings: networkSettings(&rec),
	}
	if size {
		rw := s.writableSize(rec.ID)
		resp.SizeRw = &rw
	}
	return resp, nil
}

func logPathOf(dir string, rec *Record) string {
	cfg := logConfig(rec)
	if cfg.Driver == "none" {
		return ""
	}
	return logger.Path(dir, rec.ID, cfg)
}

// dockerTime is Docker's way of writing a time: the zero time as
// 0001-01-01T00:00:00Z.
func dockerTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// writableSize is the bytes in the container's writable layer, each file
// once (as system df counts them).
func (s *Service) writableSize(id string) int64 {
	n, _ := s.writableBytes(context.Background(), id)
	return n
}
