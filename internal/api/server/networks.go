package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/moby/moby/api/types/network"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// NetworkService is what the network routes need.
type NetworkService interface {
	Create(ctx context.Context, req network.CreateRequest) (string, error)
	List() []network.Inspect
	Inspect(ref string) (network.Inspect, error)
	Remove(ctx context.Context, ref string) error
	Prune(ctx context.Context, inUse func(name string) bool) []string
}

// NetworkUsers are the containers as networks see them: which name a
// network, and connecting one to a network or taking it off.
type NetworkUsers interface {
	UsesNetwork(name string) bool
	ConnectNetwork(ctx context.Context, container, network string, es *network.EndpointSettings) error
	DisconnectNetwork(ctx context.Context, container, network string, force bool) error
}

// Networks is /networks.
type Networks struct {
	R          NetworkService
	Containers NetworkUsers
}

// Routes are the network routes.
func (n Networks) Routes() []Route {
	return []Route{
		{"GET", "/networks", n.list},
		{"POST", "/networks/create", n.create},
		{"POST", "/networks/prune", n.prune},
		{"GET", "/networks/{id}", n.inspect},
		{"DELETE", "/networks/{id}", n.remove},
		{"POST", "/networks/{id}/connect", n.connect},
		{"POST", "/networks/{id}/disconnect", n.disconnect},
	}
}

func (n Networks) list(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	filters, err := ParseFilters(r.FormValue("filters"))
	if err != nil {
		return err
	}
	out := []network.Summary{}
	for _, in := range n.R.List() {
		if matchNetwork(in, filters) {
			out = append(out, network.Summary{Network: in.Network})
		}
	}
	return WriteJSON(w, http.StatusOK, out)
}

// matchNetwork applies `network ls --filter` (name, id, label, driver,
// type) as Docker does: name and id match substrings and prefixes.
func matchNetwork(in network.Inspect, filters map[string][]string) bool {
	for k, vals := range filters {
		ok := false
		for _, v := range vals {
			switch k {
			case "name":
				ok = ok || strings.Contains(in.Name, v)
			case "id":
				ok = ok || strings.HasPrefix(in.ID, v)
			case "driver":
				ok = ok || in.Driver == v
			case "type":
				builtin := in.Name == "bridge" || in.Name == "host" || in.Name == "none"
				ok = ok || (v == "builtin") == builtin
			case "label":
				key, val, has := strings.Cut(v, "=")
				lv, present := in.Labels[key]
				ok = ok || (present && (!has || lv == val))
			default:
				return false
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (n Networks) inspect(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	in, err := n.R.Inspect(vars["id"])
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, in)
}

func (n Networks) create(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	var req network.CreateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return errdefs.Invalid("invalid JSON in the request body: %v", err)
	}
	id, err := n.R.Create(ctx, req)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, network.CreateResponse{ID: id})
}

func (n Networks) remove(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	return noContent(w, n.R.Remove(ctx, vars["id"]))
}

func (n Networks) prune(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	deleted := n.R.Prune(ctx, n.Containers.UsesNetwork)
	return WriteJSON(w, http.StatusOK, network.PruneReport{NetworksDeleted: deleted})
}

func (n Networks) connect(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	var req network.ConnectRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return errdefs.Invalid("invalid JSON in the request body: %v", err)
	}
	if req.Container == "" {
		return errdefs.Invalid("no container specified")
	}
	return okEmpty(w, n.Containers.ConnectNetwork(ctx, req.Container, vars["id"], req.EndpointConfig))
}

func (n Networks) disconnect(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	var req network.DisconnectRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return errdefs.Invalid("invalid JSON in the request body: %v", err)
	}
	if req.Container == "" {
		return errdefs.Invalid("no container specified")
	}
	return okEmpty(w, n.Containers.DisconnectNetwork(ctx, req.Container, vars["id"], req.Force))
}

// okEmpty answers 200 with no body, as dockerd's connect and disconnect.
func okEmpty(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
