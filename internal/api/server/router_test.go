package server

import (
	"net/http"
	"reflect"
	"testing"
)

func TestRouteMatching(t *testing.T) {
	routes := []compiled{}
	for _, p := range []string{"/images/json", "/images/{name:.*}/json", "/images/{name:.*}", "/containers/{name}/json", "/_ping"} {
		routes = append(routes, compile(Route{Method: http.MethodGet, Path: p}))
	}
	for _, c := range []struct {
		path  string
		route string
		vars  map[string]string
	}{
		{"/images/json", "/images/json", map[string]string{}},
		{"/images/busybox/json", "/images/{name:.*}/json", map[string]string{"name": "busybox"}},
		{"/images/localhost:5000/a/b:1/json", "/images/{name:.*}/json", map[string]string{"name": "localhost:5000/a/b:1"}},
		{"/images/a/json/json", "/images/{name:.*}/json", map[string]string{"name": "a/json"}},
		{"/images/sha256:abc", "/images/{name:.*}", map[string]string{"name": "sha256:abc"}},
		{"/images/", "/images/{name:.*}", map[string]string{"name": ""}},
		{"/containers/abc/json", "/containers/{name}/json", map[string]string{"name": "abc"}},
		{"/containers//json", "", nil},
		{"/containers/a/b/json", "", nil},
		{"/_ping", "/_ping", map[string]string{}},
		{"/_ping/", "", nil},
		{"/images", "", nil},
	} {
		rt, vars := match(routes, http.MethodHead, c.path)
		got := ""
		if rt != nil {
			got = rt.Path
		}
		if got != c.route || !reflect.DeepEqual(vars, c.vars) {
			t.Errorf("%s: route %q vars %v, want %q %v", c.path, got, vars, c.route, c.vars)
		}
	}
}
