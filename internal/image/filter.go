package image

import (
	"path"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/store"
)

// filters are `docker images --filter` terms; several values of one key
// are alternatives, different keys must all hold.
type filters struct {
	dangling   *bool
	references []string
	labels     []string
	before     []string
	since      []string
	beforeT    int64
	sinceT     int64
}

func parseFilters(terms []string) (*filters, error) {
	f := &filters{}
	for _, t := range terms {
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return nil, errdefs.Invalid("bad format of filter (expected name=value): %s", t)
		}
		switch strings.ToLower(k) {
		case "dangling":
			b := v == "true" || v == "1"
			if !b && v != "false" && v != "0" {
				return nil, errdefs.Invalid("invalid filter 'dangling=%s': use true or false", v)
			}
			f.dangling = &b
		case "reference":
			f.references = append(f.references, v)
		case "label":
			f.labels = append(f.labels, v)
		case "before":
			f.before = append(f.before, v)
		case "since":
			f.since = append(f.since, v)
		default:
			return nil, errdefs.Invalid("invalid filter '%s'", k)
		}
	}
	return f, nil
}

// resolveTimes turns before= and since= image names into creation times.
func (f *filters) resolveTimes(images map[digest.Digest]store.Image, names map[string]digest.Digest) error {
	find := func(name string) (int64, error) {
		for n, id := range names {
			if n == name || strings.HasSuffix(n, "/"+name) || strings.HasSuffix(n, "/library/"+name+":latest") || strings.HasSuffix(n, "/"+name+":latest") {
				return images[id].Created.Unix(), nil
			}
		}
		for id, img := range images {
			if strings.HasPrefix(id.Encoded(), strings.TrimPrefix(name, "sha256:")) {
				return img.Created.Unix(), nil
			}
		}
		return 0, errdefs.NotFound("No such image: %s", name)
	}
	for _, b := range f.before {
		t, err := find(b)
		if err != nil {
			return err
		}
		f.beforeT = t
	}
	for _, s := range f.since {
		t, err := find(s)
		if err != nil {
			return err
		}
		f.sinceT = t
	}
	return nil
}

func (f *filters) match(img store.Image, repoTags []string) bool {
	if f.dangling != nil && *f.dangling != (len(repoTags) == 0) {
		return false
	}
	if len(f.references) > 0 {
		ok := false
		for _, pattern := range f.references {
			for _, tag := range repoTags {
				name, _, _ := strings.Cut(tag, ":")
				if m, _ := path.Match(pattern, tag); m {
					ok = true
				}
				if m, _ := path.Match(pattern, name); m {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	for _, l := range f.labels {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := img.Labels[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	if len(f.before) > 0 && img.Created.Unix() >= f.beforeT {
		return false
	}
	if len(f.since) > 0 && img.Created.Unix() <= f.sinceT {
		return false
	}
	return true
}
