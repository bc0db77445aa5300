package volume

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"

	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/volume"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Filters are the filters parameter of the API, key → values.
type Filters map[string][]string

// The filters each operation takes.
func listFilters() []string  { return []string{"dangling", "name", "driver", "label"} }
func pruneFilters() []string { return []string{"label", "label!", "all"} }

func (f Filters) validate(accepted []string) error {
	for k := range f {
		if !slices.Contains(accepted, k) {
			return errdefs.Invalid("invalid filter '%s'", k)
		}
	}
	return nil
}

// matcher is a compiled set of filters.
type matcher struct {
	f        Filters
	names    []*regexp.Regexp
	dangling *bool
}

func newMatcher(f Filters, accepted []string) (*matcher, error) {
	if err := f.validate(accepted); err != nil {
		return nil, err
	}
	m := &matcher{f: f}
	for _, n := range f["name"] {
		re, err := regexp.Compile(n)
		if err != nil {
			return nil, errdefs.Invalid("invalid filter 'name=%s': %v", n, err)
		}
		m.names = append(m.names, re)
	}
	if vals, ok := f["dangling"]; ok {
		if len(vals) != 1 {
			return nil, errdefs.Invalid("invalid filter 'dangling=%s'", strings.Join(vals, ","))
		}
		var b bool
		switch v := vals[0]; {
		case strings.EqualFold(v, "true") || v == "1":
			b = true
		case strings.EqualFold(v, "false") || v == "0":
		default:
			return nil, errdefs.Invalid("invalid filter 'dangling=%s'", v)
		}
		m.dangling = &b
	}
	return m, nil
}

// match tells whether a volume passes; the caller holds s.mu.
func (m *matcher) match(e *entry) bool {
	if d := m.f["driver"]; len(d) > 0 && !slices.Contains(d, e.meta.Driver) {
		return false
	}
	if len(m.names) > 0 {
		ok := false
		for _, re := range m.names {
			ok = ok || re.MatchString(e.meta.Name)
		}
		if !ok {
			return false
		}
	}
	if !matchLabels(m.f["label"], e.meta.Labels) {
		return false
	}
	if neg := m.f["label!"]; len(neg) > 0 && matchLabels(neg, e.meta.Labels) {
		return false
	}
	if m.dangling != nil && (len(e.refs) == 0) != *m.dangling {
		return false
	}
	return true
}

// matchLabels is true when every `key` or `key=value` term holds.
func matchLabels(terms []string, labels map[string]string) bool {
	for _, t := range terms {
		k, v, hasValue := strings.Cut(t, "=")
		got, ok := labels[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	return true
}

// List returns the volumes passing the filters (dangling, name, driver,
// label), by name.
func (s *Service) List(ctx context.Context, f Filters) ([]volume.Volume, error) {
	m, err := newMatcher(f, listFilters())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []volume.Volume{}
	for _, e := range s.vols {
		if m.match(e) {
			out = append(out, s.toAPI(e))
		}
	}
	slices.SortFunc(out, func(a, b volume.Volume) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Prune removes the unused local volumes without mount options that pass
// the filters: only anonymous ones unless the filter all=true says all (an
// API client older than 1.42 always means all).
func (s *Service) Prune(ctx context.Context, f Filters) (volume.PruneReport, error) {
	rep := volume.PruneReport{VolumesDeleted: []string{}}
	if !s.pruning.CompareAndSwap(false, true) {
		return rep, errdefs.Conflict("a prune operation is already running")
	}
	defer s.pruning.Store(false)
	f = cloneFilters(f)
	all := false
	switch vals := f["all"]; {
	case len(vals) > 1:
		return rep, errdefs.Invalid("invalid filter 'all=%s': only one value is expected", strings.Join(vals, ","))
	case len(vals) == 1:
		b, err := strconv.ParseBool(vals[0])
		if err != nil {
			return rep, errdefs.Invalid("invalid filter 'all': %v", err)
		}
		all = b
	}
	m, err := newMatcher(f, pruneFilters())
	if err != nil {
		return rep, err
	}
	if !all {
		m.f["label"] = append(m.f["label"], AnonymousLabel)
	}
	s.mu.Lock()
	var candidates []string
	for name, e := range s.vols {
		if e.meta.Driver == DriverName && len(e.meta.Options) == 0 && len(e.refs) == 0 && m.match(e) {
			candidates = append(candidates, name)
		}
	}
	s.mu.Unlock()
	slices.Sort(candidates)
	for _, name := range candidates {
		if ctx.Err() != nil {
			break
		}
		size, _ := dirSize(ctx, s.Path(name))
		// Remove checks again under the lock: a container may have taken
		// the volume meanwhile.
		if err := s.Remove(ctx, name, false); err != nil {
			s.log.Warn("prune: keeping a volume", "name", name, "err", err)
			continue
		}
		rep.SpaceReclaimed += uint64(size)
		rep.VolumesDeleted = append(rep.VolumesDeleted, name)
	}
	s.publish(eventtypes.ActionPrune, "", map[string]string{"reclaimed": strconv.FormatUint(rep.SpaceReclaimed, 10)})
	return rep, nil
}

func cloneFilters(f Filters) Filters {
	out := Filters{}
	for k, v := range f {
		out[k] = slices.Clone(v)
	}
	return out
}

// Usage is every local volume without mount options with its size and
// the number of containers using it, for `system df`.
func (s *Service) Usage(ctx context.Context) ([]volume.Volume, error) {
	s.mu.Lock()
	type item struct {
		v    volume.Volume
		refs int
	}
	var items []item
	for _, e := range s.vols {
		if len(e.meta.Options) == 0 {
			items = append(items, item{s.toAPI(e), len(e.refs)})
		}
	}
	s.mu.Unlock()
	out := make([]volume.Volume, 0, len(items))
	for _, it := range items {
		size, err := dirSize(ctx, it.v.Mountpoint)
		if err != nil {
			size = -1
		}
		it.v.UsageData = &volume.UsageData{Size: size, RefCount: int64(it.refs)}
		out = append(out, it.v)
	}
	slices.SortFunc(out, func(a, b volume.Volume) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
