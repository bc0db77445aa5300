package server

import (
	"encoding/json"
	goruntime "runtime"

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
