package server

import (
	"net/http"
	"strings"

	"github.com/gantry-dev/gantry/internal/build"
)

// noCacheFilterParam names the stages whose steps miss the cache
// (--no-cache-filter, comma separated). Docker's classic protocol has no
// such option; gantry's CLI sends it.
const noCacheFilterParam = "gantry.nocachefilter"

// buildExtras reads what gantry's CLI adds to Docker's build options:
// secrets (a header, never the URL) and --no-cache-filter.
func buildExtras(r *http.Request, o *build.Options) error {
	secrets, err := build.DecodeSecrets(r.Header.Get(build.SecretsHeader))
	if err != nil {
		return err
	}
	o.Secrets = secrets
	for _, v := range r.Form[noCacheFilterParam] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				o.NoCacheFilter = append(o.NoCacheFilter, s)
			}
		}
	}
	return nil
}
