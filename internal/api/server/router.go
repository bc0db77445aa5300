// Package server serves the Docker Engine API: route tables per area,
// handlers that return an error, one mapping from error class to status.
package server

import (
	"context"
	"net/http"
	"regexp"
	"strings"
)

// HandlerFunc serves one route. vars holds the path's named parts.
type HandlerFunc func(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error

// Route is one entry of an area's route table.
type Route struct {
	Method  string
	Path    string // "/containers/{name}/json"; "{name:.*}" matches across slashes
	Handler HandlerFunc
}

// Router is an area of the API (containers, images, system, ...).
type Router interface {
	Routes() []Route
}

type compiled struct {
	Route
	re    *regexp.Regexp
	names []string
}

func compile(r Route) compiled {
	var names []string
	var b strings.Builder
	b.WriteString("^")
	rest := r.Path
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(regexp.QuoteMeta(rest))
			break
		}
		j := strings.IndexByte(rest[i:], '}') + i
		b.WriteString(regexp.QuoteMeta(rest[:i]))
		name, pat, ok := strings.Cut(rest[i+1:j], ":")
		if !ok {
			pat = "[^/]+"
		}
		names = append(names, name)
		b.WriteString("(" + pat + ")")
		rest = rest[j+1:]
	}
	b.WriteString("$")
	return compiled{Route: r, re: regexp.MustCompile(b.String()), names: names}
}

// match finds the route for method and path; HEAD is served by GET routes.
func match(routes []compiled, method, path string) (*compiled, map[string]string) {
	for i := range routes {
		rt := &routes[i]
		if rt.Method != method && !(method == http.MethodHead && rt.Method == http.MethodGet) {
			continue
		}
		m := rt.re.FindStringSubmatch(path)
		if m == nil {
			continue
		}
		vars := make(map[string]string, len(rt.names))
		for k, n := range rt.names {
			vars[n] = m[k+1]
		}
		return rt, vars
	}
	return nil, nil
}
