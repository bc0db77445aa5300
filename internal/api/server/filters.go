package server

import (
	"encoding/json"
	goruntime "runtime"
	"time"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// ParseFilters reads the filters parameter in both of Docker's shapes:
// {"key":{"value":true}} and the older {"key":["value"]}.
func ParseFilters(s string) (map[string][]string, error) {
	out := map[string][]string{}
	if s == "" {
		return out, nil
	}
	var modern map[string]map[string]bool
	if err := json.Unmarshal([]byte(s), &modern); err == nil {
		for k, vals := range modern {
			for v := range vals {
				out[k] = append(out[k], v)
			}
		}
		return out, nil
	}
	var legacy map[string][]string
	if err := json.Unmarshal([]byte(s), &legacy); err != nil {
		return nil, errdefs.Invalid("invalid filters: %v", err)
	}
	return legacy, nil
}

func hostArch() string { return goruntime.GOARCH }

// pruneFilters are the filters every prune takes, as Docker's: until,
// label and label!.
type pruneFilters struct {
	Until             time.Time
	Labels, NotLabels []string
}

// parsePruneFilters reads a prune's filters; area reads the keys of that
// area alone and says whether it knew the key. An unknown key is refused.
func parsePruneFilters(filters map[string][]string, area func(k, v string) (bool, error)) (pruneFilters, error) {
	var f pruneFilters
	for k, vals := range filters {
		for _, v := range vals {
			switch k {
			case "until":
				t, err := ParseUntil(v, time.Now())
				if err != nil {
					return f, err
				}
				f.Until = t
			case "label":
				f.Labels = append(f.Labels, v)
			case "label!":
				f.NotLabels = append(f.NotLabels, v)
			default:
				known := false
				if area != nil {
					var err error
					if known, err = area(k, v); err != nil {
						return f, err
					}
				}
				if !known {
					return f, errdefs.Invalid("invalid filter '%s'", k)
				}
			}
		}
	}
	return f, nil
}
