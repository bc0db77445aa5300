package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// The API versions served: the newest is the one of the types we use; the
// oldest is the oldest Docker still accepts.
const (
	APIVersion    = "1.51"
	MinAPIVersion = "1.24"
)

// Server routes requests to the areas' handlers.
type Server struct {
	routes []compiled
	log    *slog.Logger
	header http.Header
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets where request failures are logged.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// New builds a server from the areas' route tables.
func New(serverVersion string, routers []Router, opts ...Option) *Server {
	s := &Server{log: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	for _, r := range routers {
		for _, rt := range r.Routes() {
			s.routes = append(s.routes, compile(rt))
		}
	}
	s.header = http.Header{
		"Api-Version":         {APIVersion},
		"Docker-Experimental": {"false"},
		"Ostype":              {"linux"},
		"Server":              {"gantry/" + serverVersion + " (linux)"},
	}
	return s
}

type versionKey struct{}

// VersionOf is the API version the client asked for (the newest when it
// did not say).
func VersionOf(ctx context.Context) string {
	if v, ok := ctx.Value(versionKey{}).(string); ok {
		return v
	}
	return APIVersion
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// A bug in one handler answers 500; it never takes the daemon down.
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			writeError(w, fmt.Errorf("internal error: %v", p))
		}
	}()
	for k, v := range s.header {
		w.Header()[k] = v
	}
	path, version := splitVersion(r.URL.Path)
	if version != "" {
		if CompareVersions(version, MinAPIVersion) < 0 {
			writeError(w, errdefs.Invalid("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", version, MinAPIVersion))
			return
		}
		if CompareVersions(version, APIVersion) > 0 {
			writeError(w, errdefs.Invalid("client version %s is too new. Maximum supported API version is %s", version, APIVersion))
			return
		}
	} else {
		version = APIVersion
	}
	rt, vars := match(s.routes, r.Method, path)
	if rt == nil {
		writeError(w, errdefs.NotFound("page not found"))
		return
	}
	ctx := context.WithValue(r.Context(), versionKey{}, version)
	start := time.Now()
	defer func() { s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "took", time.Since(start)) }()
	if err := rt.Handler(ctx, w, r.WithContext(ctx), vars); err != nil {
		if status := StatusOf(err); status >= 500 {
			s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		writeError(w, err)
	}
}

// splitVersion takes "/v1.45/containers/json" apart.
func splitVersion(path string) (rest, version string) {
	if !strings.HasPrefix(path, "/v") {
		return path, ""
	}
	end := strings.IndexByte(path[1:], '/')
	if end < 0 {
		end = len(path) - 1
	}
	v := path[2 : end+1]
	if v == "" || strings.Trim(v, "0123456789.") != "" {
		return path, ""
	}
	return path[end+1:], v
}

// CompareVersions compares dotted API versions numerically.
func CompareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			fmt.Sscan(as[i], &x)
		}
		if i < len(bs) {
			fmt.Sscan(bs[i], &y)
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// StatusOf is the one mapping from an error's class to an HTTP status.
func StatusOf(err error) int {
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errdefs.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, errdefs.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, errdefs.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, errdefs.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, errNotModified):
		return http.StatusNotModified
	case errors.Is(err, context.Canceled):
		return 499
	}
	return http.StatusInternalServerError
}

// errNotModified answers a start of a running container or a stop of a
// stopped one, as Docker does.
var errNotModified = errors.New("not modified")

// NotModified is returned by a handler whose request changed nothing.
func NotModified() error { return errNotModified }

type errorBody struct {
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, err error) {
	status := StatusOf(err)
	if status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Message: err.Error()})
}

// WriteJSON writes v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// DecodeJSON reads a request body into v; an empty body leaves v as it is.
func DecodeJSON(r *http.Request, v any) error {
	if r.Body == nil || r.ContentLength == 0 {
		return nil
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		if err.Error() == "EOF" {
			return nil
		}
		return errdefs.Invalid("invalid JSON in the request body: %v", err)
	}
	return nil
}
