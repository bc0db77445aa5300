package build

import (
	"fmt"
	"strings"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// noCacheFiltered says why the steps of st must miss the cache when
// --no-cache-filter names its stage (by name or number), else "".
func (r *buildRun) noCacheFiltered(st *stageState) string {
	for _, f := range r.o.NoCacheFilter {
		if r.stageMatches(st.index, f) {
			return fmt.Sprintf("--no-cache-filter %s", f)
		}
	}
	return ""
}

func (r *buildRun) stageMatches(i int, ref string) bool {
	ref = strings.ToLower(strings.TrimSpace(ref))
	s := r.df.Stages[i]
	return ref != "" && (s.Name == ref || fmt.Sprint(s.Index) == ref)
}

// checkNoCacheFilter refuses a --no-cache-filter naming no stage of the
// Dockerfile.
func (r *buildRun) checkNoCacheFilter() error {
	for _, f := range r.o.NoCacheFilter {
		found := false
		for i := range r.df.Stages {
			found = found || r.stageMatches(i, f)
		}
		if !found {
			return errdefs.Invalid("--no-cache-filter: no stage named %q in the Dockerfile", f)
		}
	}
	return nil
}
