package container

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	eventtypes "github.com/moby/moby/api/types/events"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// PruneOptions are `container prune`'s filters: containers created before
// Until, with every one of Labels and not every one of NotLabels ("key"
// or "key=value").
type PruneOptions struct {
	Until     time.Time
	Labels    []string
	NotLabels []string
}

// PruneReport is what a prune removed and the bytes of their writable
// layers.
type PruneReport struct {
	Deleted   []string
	Reclaimed uint64
}

// Prune removes every container that is not running (nor paused nor
// restarting) and matches the filters, as Docker does, and announces the
// prune with the bytes reclaimed.
func (s *Service) Prune(ctx context.Context, opts PruneOptions) (PruneReport, error) {
	rep := PruneReport{Deleted: []string{}}
	for _, e := range s.all() {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		e.mu.Lock()
		rec := e.rec
		e.mu.Unlock()
		if rec.State.Running() || rec.State.Status == "restarting" {
			continue
		}
		if !opts.Until.IsZero() && !rec.Created.Before(opts.Until) {
			continue
		}
		var labels map[string]string
		if rec.Config != nil {
			labels = rec.Config.Labels
		}
		if !hasLabels(opts.Labels, labels) || (len(opts.NotLabels) > 0 && hasLabels(opts.NotLabels, labels)) {
			continue
		}
		size, _ := s.writableBytes(ctx, rec.ID)
		if err := s.Remove(ctx, rec.ID, RemoveOptions{}); err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				continue // removed meanwhile
			}
			if strings.Contains(err.Error(), "is running") {
				continue // started meanwhile
			}
			return rep, err
		}
		rep.Deleted = append(rep.Deleted, rec.ID)
		rep.Reclaimed += uint64(size)
	}
	if s.events != nil {
		s.events.Publish(eventtypes.ContainerEventType, "prune", "", map[string]string{"reclaimed": fmt.Sprint(rep.Reclaimed)})
	}
	return rep, nil
}

// hasLabels reports whether labels hold every "key" or "key=value" of list.
func hasLabels(list []string, labels map[string]string) bool {
	for _, l := range list {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := labels[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	return true
}
