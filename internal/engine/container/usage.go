package container

import (
	"context"
	"os"
	"path/filepath"

	"github.com/gantry-dev/gantry/internal/engine/diskusage"
	"github.com/gantry-dev/gantry/internal/logger"
)

// DiskUsage is every container for `system df`: its summary with the
// bytes of its writable layer (SizeRw, each file once) and of its logs
// (the current file and the rotated ones).
func (s *Service) DiskUsage(ctx context.Context) ([]diskusage.ContainerUsage, error) {
	list, err := s.List(ctx, ListOptions{All: true})
	if err != nil {
		return nil, err
	}
	out := make([]diskusage.ContainerUsage, 0, len(list))
	for _, sum := range list {
		rw, err := s.writableBytes(ctx, sum.ID)
		if err != nil {
			return nil, err
		}
		sum.SizeRw = rw
		out = append(out, diskusage.ContainerUsage{Summary: sum, LogsSize: s.logBytes(sum.ID)})
	}
	return out, nil
}

// writableBytes is the size of the container's writable layer.
func (s *Service) writableBytes(ctx context.Context, id string) (int64, error) {
	return diskusage.Dir(ctx, filepath.Join(s.cfg.DataRoot, "snapshots", "active", id, "fs"))
}

// logBytes is the size of the container's log files, rotated ones included.
func (s *Service) logBytes(id string) int64 {
	e, err := s.lookup(id)
	if err != nil {
		return 0
	}
	e.mu.Lock()
	p := logger.Path(s.containerDir(id), id, logConfig(&e.rec))
	e.mu.Unlock()
	if p == "" {
		return 0
	}
	files, _ := filepath.Glob(p + "*")
	var total int64
	for _, f := range files {
		if fi, err := os.Lstat(f); err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
	}
	return total
}
