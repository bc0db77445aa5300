package container

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// ListOptions are GET /containers/json's parameters.
type ListOptions struct {
	All     bool
	Limit   int
	Size    bool
	Filters map[string][]string
}

var listFilters = map[string]bool{"status": true, "name": true, "label": true, "ancestor": true, "exited": true, "id": true, "before": true, "since": true, "volume": true}

// List returns the containers as `ps` shows them, newest first.
func (s *Service) List(ctx context.Context, opts ListOptions) ([]container.Summary, error) {
	for k, vals := range opts.Filters {
		if !listFilters[k] {
			return nil, errdefs.Invalid("invalid filter '%s'", k)
		}
		if k == "status" {
			for _, v := range vals {
				if container.ValidateContainerState(container.ContainerState(v)) != nil {
					return nil, errdefs.Invalid("invalid filter 'status=%s'", v)
				}
			}
		}
	}
	match, err := s.filterFunc(ctx, opts.Filters)
	if err != nil {
		return nil, err
	}
	all := opts.All || opts.Limit > 0 || len(opts.Filters["status"]) > 0 || len(opts.Filters["exited"]) > 0
	out := []container.Summary{}
	now := time.Now()
	for _, e := range s.all() {
		e.mu.Lock()
		rec := e.rec
		e.mu.Unlock()
		if !all && !rec.State.Running() && rec.State.Status != container.StateRestarting {
			continue
		}
		if !match(&rec) {
			continue
		}
		sum := summary(&rec, now)
		if opts.Size {
			sum.SizeRw = s.writableSize(rec.ID)
		}
		out = append(out, sum)
		if opts.Limit > 0 && len(out) >= opts.Limit {
			break
		}
	}
	return out, nil
}

func (s *Service) filterFunc(ctx context.Context, f map[string][]string) (func(*Record) bool, error) {
	var names []*regexp.Regexp
	for _, n := range f["name"] {
		re, err := regexp.Compile(n)
		if err != nil {
			return nil, errdefs.Invalid("invalid filter 'name=%s': %v", n, err)
		}
		names = append(names, re)
	}
	var ancestors []string
	for _, a := range f["ancestor"] {
		img, err := s.images.Resolve(ctx, a)
		if err != nil {
			continue // Docker: an unknown ancestor matches nothing
		}
		ancestors = append(ancestors, string(img.ID))
	}
	var exited []int
	for _, v := range f["exited"] {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, errdefs.Invalid("invalid filter 'exited=%s'", v)
		}
		exited = append(exited, n)
	}
	var before, since time.Time
	for _, key := range []string{"before", "since"} {
		for _, ref := range f[key] {
			e, err := s.lookup(ref)
			if err != nil {
				return nil, err
			}
			if key == "before" {
				before = e.rec.Created
			} else {
				since = e.rec.Created
			}
		}
	}
	return func(r *Record) bool {
		if vals := f["status"]; len(vals) > 0 && !contains(vals, string(r.State.Status)) {
			return false
		}
		if len(names) > 0 {
			ok := false
			for _, re := range names {
				if re.MatchString("/" + r.Name) {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
		if vals := f["id"]; len(vals) > 0 {
			ok := false
			for _, v := range vals {
				if strings.HasPrefix(r.ID, v) {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
		for _, l := range f["label"] {
			k, v, hasValue := strings.Cut(l, "=")
			got, ok := r.Config.Labels[k]
			if !ok || (hasValue && got != v) {
				return false
			}
		}
		if len(f["ancestor"]) > 0 && !contains(ancestors, string(r.ImageID)) {
			return false
		}
		if len(exited) > 0 {
			if r.State.Status != container.StateExited {
				return false
			}
			ok := false
			for _, c := range exited {
				if c == r.State.ExitCode {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
		if !before.IsZero() && !r.Created.Before(before) {
			return false
		}
		if !since.IsZero() && !r.Created.After(since) {
			return false
		}
		if vals := f["volume"]; len(vals) > 0 && !usesVolume(r, vals) {
			return false
		}
		return true
	}, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func summary(r *Record, now time.Time) container.Summary {
	sum := container.Summary{
		ID:      r.ID,
		Names:   []string{"/" + r.Name},
		Image:   r.Image,
		ImageID: string(r.ImageID),
		Command: strings.Join(append([]string{r.Path}, r.Args...), " "),
		Created: r.Created.Unix(),
		Ports:   portSummaries(r),
		Labels:  r.Config.Labels,
		State:   r.State.Status,
		Status:  statusText(r, now),
		Mounts:  apiMountPoints(r),
	}
	if h := r.State.Health; h != nil {
		sum.Health = &container.HealthSummary{Status: h.Status, FailingStreak: h.FailingStreak}
	}
	sum.HostConfig.NetworkMode = string(r.HostConfig.NetworkMode)
	sum.NetworkSettings = &container.NetworkSettingsSummary{Networks: summaryNetworks(r)}
	return sum
}

// statusText is Docker's STATUS column.
func statusText(r *Record, now time.Time) string {
	st := r.State
	switch st.Status {
	case container.StateRunning:
		return "Up " + units.HumanDuration(now.Sub(st.StartedAt)) + healthSuffix(st.Health)
	case container.StatePaused:
		return "Up " + units.HumanDuration(now.Sub(st.StartedAt)) + " (Paused)"
	case container.StateRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, units.HumanDuration(now.Sub(st.FinishedAt)))
	case container.StateRemoving:
		return "Removal In Progress"
	case container.StateDead:
		return "Dead"
	case container.StateExited:
		if st.FinishedAt.IsZero() {
			return "Created"
		}
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, units.HumanDuration(now.Sub(st.FinishedAt)))
	}
	return "Created"
}
