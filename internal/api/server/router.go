// Package server serves the Docker Engine API: route tables per area,
// handlers that return an error, one mapping from error class to status.
package server

import (
	"context"
	"net/http"
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

// compiled is a route's path split into segments, so that matching is a
// walk over the path's segments: no regular expression per route to keep in
// memory or to run for every request.
type compiled struct {
	Route
	prefix []segment // before a {name:.*} part, or the whole path
	rest   string    // the {name:.*} part's name; "" when there is none
	suffix []segment // after the {name:.*} part
}

// segment is a literal ("containers") or a named part ("{name}", one
// non-empty segment).
type segment struct {
	literal string
	name    string
}

func compile(r Route) compiled {
	c := compiled{Route: r}
	parts := strings.Split(r.Path, "/")
	for _, p := range parts {
		if !strings.HasPrefix(p, "{") {
			if strings.ContainsAny(p, "{}") {
				panic("route " + r.Path + ": a named part must be a whole segment")
			}
			c.add(segment{literal: p})
			continue
		}
		name, pat, wild := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(p, "{"), "}"), ":")
		switch {
		case !wild:
			c.add(segment{name: name})
		case pat == ".*" && c.rest == "":
			c.rest = name
		default:
			panic("route " + r.Path + ": only one {name:.*} part is supported")
		}
	}
	return c
}

func (c *compiled) add(s segment) {
	if c.rest == "" {
		c.prefix = append(c.prefix, s)
	} else {
		c.suffix = append(c.suffix, s)
	}
}

// match reports whether path is this route's, and its named parts. A
// {name:.*} part takes everything between the segments before and after it
// (at least one segment, possibly empty, slashes included).
func (c *compiled) match(path string) (map[string]string, bool) {
	var vars map[string]string
	set := func(k, v string) {
		if vars == nil {
			vars = make(map[string]string, 2)
		}
		vars[k] = v
	}
	take := func(want []segment, got []string) bool {
		for i, s := range want {
			switch {
			case s.name == "":
				if got[i] != s.literal {
					return false
				}
			case got[i] == "":
				return false
			default:
				set(s.name, got[i])
			}
		}
		return true
	}
	parts := strings.Split(path, "/")
	if c.rest == "" {
		if len(parts) != len(c.prefix) || !take(c.prefix, parts) {
			return nil, false
		}
		return vars, true
	}
	middle := len(parts) - len(c.prefix) - len(c.suffix)
	if middle < 1 || !take(c.prefix, parts[:len(c.prefix)]) || !take(c.suffix, parts[len(parts)-len(c.suffix):]) {
		return nil, false
	}
	set(c.rest, strings.Join(parts[len(c.prefix):len(c.prefix)+middle], "/"))
	return vars, true
}

// match finds the route for method and path; HEAD is served by GET routes.
func match(routes []compiled, method, path string) (*compiled, map[string]string) {
	for i := range routes {
		rt := &routes[i]
		if rt.Method != method && !(method == http.MethodHead && rt.Method == http.MethodGet) {
			continue
		}
		if vars, ok := rt.match(path); ok {
			if vars == nil {
				vars = map[string]string{}
			}
			return rt, vars
		}
	}
	return nil, nil
}
