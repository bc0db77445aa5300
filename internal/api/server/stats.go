package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/moby/moby/api/types/container"

	enginecontainer "github.com/gantry-dev/gantry/internal/engine/container"
	"github.com/gantry-dev/gantry/internal/errdefs"
)

// ContainerOps is the operations part of the containers area: resource
// figures and live changes to limits and restart policies.
type ContainerOps struct {
	S *enginecontainer.Service
}

func (c ContainerOps) Routes() []Route {
	return []Route{
		{"GET", "/containers/{name}/stats", c.stats},
		{"POST", "/containers/{name}/update", c.update},
	}
}

// stats streams by default, as Docker's: stream=false answers one sample.
func (c ContainerOps) stats(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	stream := r.FormValue("stream") == "" || BoolValue(r, "stream")
	oneShot := BoolValue(r, "one-shot")
	if oneShot && stream {
		return errdefs.Invalid("cannot have stream=true and one-shot=true")
	}
	flusher, _ := w.(http.Flusher)
	started := false
	enc := json.NewEncoder(w)
	err := c.S.Stats(ctx, vars["name"], enginecontainer.StatsOptions{Stream: stream, OneShot: oneShot}, func(st *container.StatsResponse) error {
		if !started {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		if err := enc.Encode(st); err != nil {
			return err
		}
		if stream && flusher != nil {
			flusher.Flush()
		}
		return nil
	})
	if started {
		return nil // the client went away, or the stream ended
	}
	return err
}

func (c ContainerOps) update(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	var upd container.UpdateConfig
	if err := json.NewDecoder(r.Body).Decode(&upd); err != nil && !errors.Is(err, io.EOF) {
		return errdefs.Invalid("invalid JSON in the request body: %v", err)
	}
	warnings, err := c.S.Update(ctx, vars["name"], upd)
	if err != nil {
		return err
	}
	if warnings == nil {
		warnings = []string{}
	}
	return WriteJSON(w, http.StatusOK, container.UpdateResponse{Warnings: warnings})
}
