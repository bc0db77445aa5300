package server

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/moby/moby/api/types/jsonstream"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/image"
)

// Images is the images area of the API.
type Images struct {
	S     *image.Service
	InUse image.InUse
}

func (i Images) Routes() []Route {
	return []Route{
		{"GET", "/images/json", i.list},
		{"POST", "/images/create", i.create},
		{"GET", "/images/{name:.*}/json", i.inspect},
		{"GET", "/images/{name:.*}/history", i.history},
		{"POST", "/images/{name:.*}/tag", i.tag},
		{"DELETE", "/images/{name:.*}", i.remove},
	}
}

func (i Images) list(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	filters, err := ParseFilters(r.FormValue("filters"))
	if err != nil {
		return err
	}
	var flat []string
	for k, vals := range filters {
		for _, v := range vals {
			flat = append(flat, k+"="+v)
		}
	}
	list, err := i.S.List(ctx, image.ListOptions{All: BoolValue(r, "all"), Filters: flat})
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, list)
}

func (i Images) inspect(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	resp, err := i.S.Inspect(ctx, vars["name"])
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, resp)
}

func (i Images) history(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	resp, err := i.S.History(ctx, vars["name"])
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, resp)
}

func (i Images) tag(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	target := r.FormValue("repo")
	if t := r.FormValue("tag"); t != "" {
		target += ":" + t
	}
	if err := i.S.Tag(ctx, vars["name"], target); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (i Images) remove(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	resp, err := i.S.Remove(ctx, vars["name"], BoolValue(r, "force"), i.InUse)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, resp)
}

// create pulls (fromImage) with Docker's JSON progress stream. Importing
// (fromSrc) is refused: it is not served yet.
func (i Images) create(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	from := r.FormValue("fromImage")
	if from == "" {
		if r.FormValue("fromSrc") != "" {
			return errdefs.Invalid("importing through the API is not supported yet: use `gantry import`")
		}
		return errdefs.Invalid("fromImage is required")
	}
	if tag := r.FormValue("tag"); tag != "" {
		if len(tag) > 7 && tag[:7] == "sha256:" {
			from += "@" + tag
		} else {
			from += ":" + tag
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	send := func(m jsonstream.Message) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(m)
		if flusher != nil {
			flusher.Flush()
		}
	}
	res, err := i.S.Pull(ctx, from, image.PullOptions{Progress: func(p image.Progress) {
		m := jsonstream.Message{ID: p.ID, Status: p.Status}
		if p.Total > 0 || p.Current > 0 {
			m.Progress = &jsonstream.Progress{Current: p.Current, Total: p.Total}
		}
		send(m)
	}})
	if err != nil {
		send(jsonstream.Message{Error: &jsonstream.Error{Message: err.Error()}})
		return nil
	}
	if res.ManifestDigest != "" {
		send(jsonstream.Message{Status: "Digest: " + res.ManifestDigest.String()})
	}
	if res.UpToDate {
		send(jsonstream.Message{Status: "Status: Image is up to date for " + res.Ref.Familiar()})
	} else {
		send(jsonstream.Message{Status: "Status: Downloaded newer image for " + res.Ref.Familiar()})
	}
	return nil
}
