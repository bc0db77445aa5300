package server

import (
	"context"
	"net/http"
	"time"

	"github.com/moby/moby/api/types/container"

	enginecontainer "github.com/gantry-dev/gantry/internal/engine/container"
	"github.com/gantry-dev/gantry/internal/engine/diskusage"
	"github.com/gantry-dev/gantry/internal/errdefs"
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
	var opts enginecontainer.PruneOptions
	for k, vals := range filters {
		for _, v := range vals {
			switch k {
			case "until":
				t, err := ParseUntil(v, time.Now())
				if err != nil {
					return err
				}
				opts.Until = t
			case "label":
				opts.Labels = append(opts.Labels, v)
			case "label!":
				opts.NotLabels = append(opts.NotLabels, v)
			default:
				return errdefs.Invalid("invalid filter '%s'", k)
			}
		}
	}
	rep, err := h.Containers.Prune(ctx, opts)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, container.PruneReport{ContainersDeleted: rep.Deleted, SpaceReclaimed: rep.Reclaimed})
}
