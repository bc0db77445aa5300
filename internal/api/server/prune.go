package server

import (
	"context"
	"net/http"

	"github.com/moby/moby/api/types/container"

	enginecontainer "github.com/gantry-dev/gantry/internal/engine/container"
	"github.com/gantry-dev/gantry/internal/engine/diskusage"
)

// Housekeeping is the disk area: `container prune` and `system df`.
// (`system prune` is the CLI calling each area's prune in turn, as
// docker's does; `image prune` is in the images area.)
type Housekeeping struct {
	Containers *enginecontainer.Service
	DiskUsage  *diskusage.Service
}

func (h Housekeeping) Routes() []Route {
	return []Route{
		{"POST", "/containers/prune", h.pruneContainers},
		{"GET", "/system/df", h.df},
	}
}

// pruneContainers is POST /containers/prune with Docker's filters: until,
// label and label!.
func (h Housekeeping) pruneContainers(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	filters, err := ParseFilters(r.FormValue("filters"))
	if err != nil {
		return err
	}
	f, err := parsePruneFilters(filters, nil)
	if err != nil {
		return err
	}
	opts := enginecontainer.PruneOptions{Until: f.Until, Labels: f.Labels, NotLabels: f.NotLabels}
	rep, err := h.Containers.Prune(ctx, opts)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, container.PruneReport{ContainersDeleted: rep.Deleted, SpaceReclaimed: rep.Reclaimed})
}
