package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/moby/moby/api/types/volume"

	"github.com/gantry-dev/gantry/internal/errdefs"
	enginevolume "github.com/gantry-dev/gantry/internal/volume"
)

// Volumes is the volumes area of the API.
type Volumes struct {
	S *enginevolume.Service
}

func (v Volumes) Routes() []Route {
	return []Route{
		{"GET", "/volumes", v.list},
		{"POST", "/volumes/create", v.create},
		{"POST", "/volumes/prune", v.prune},
		{"GET", "/volumes/{name}", v.inspect},
		{"DELETE", "/volumes/{name}", v.remove},
	}
}

func (v Volumes) list(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	filters, err := ParseFilters(r.FormValue("filters"))
	if err != nil {
		return err
	}
	vols, err := v.S.List(ctx, enginevolume.Filters(filters))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, volume.ListResponse{Volumes: vols})
}

func (v Volumes) create(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	var req volume.CreateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		return errdefs.Invalid("invalid JSON in the request body: %v", err)
	}
	if req.ClusterVolumeSpec != nil {
		return errdefs.Invalid("cluster volumes are not supported: gantry is not a swarm manager")
	}
	vol, _, err := v.S.Create(ctx, enginevolume.CreateOptions{
		Name: req.Name, Driver: req.Driver, Labels: req.Labels, Options: req.DriverOpts,
	})
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, vol)
}

func (v Volumes) inspect(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	vol, err := v.S.Get(ctx, vars["name"])
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, vol)
}

func (v Volumes) remove(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	if err := v.S.Remove(ctx, vars["name"], BoolValue(r, "force")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (v Volumes) prune(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	filters, err := ParseFilters(r.FormValue("filters"))
	if err != nil {
		return err
	}
	// Before API 1.42 a prune removed every unused volume, named ones too.
	if CompareVersions(VersionOf(ctx), "1.42") < 0 {
		filters["all"] = []string{"true"}
	}
	rep, err := v.S.Prune(ctx, enginevolume.Filters(filters))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, rep)
}
