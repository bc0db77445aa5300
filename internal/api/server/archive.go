package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"

	"github.com/moby/moby/api/types/container"

	enginecontainer "github.com/gantry-dev/gantry/internal/engine/container"
	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Archive is the files-in-containers area: the archive API behind `cp`,
// `diff` and `export`.
type Archive struct {
	S *enginecontainer.Service
}

func (a Archive) Routes() []Route {
	return []Route{
		{"HEAD", "/containers/{name}/archive", a.stat},
		{"GET", "/containers/{name}/archive", a.get},
		{"PUT", "/containers/{name}/archive", a.put},
		{"GET", "/containers/{name}/changes", a.changes},
		{"GET", "/containers/{name}/export", a.export},
	}
}

// pathStatHeader is Docker's header carrying a path's stat as base64 JSON.
const pathStatHeader = "X-Docker-Container-Path-Stat"

func setPathStat(w http.ResponseWriter, st container.PathStat) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	w.Header().Set(pathStatHeader, base64.StdEncoding.EncodeToString(b))
	return nil
}

func archivePath(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", errdefs.Invalid("Path cannot be empty")
	}
	return p, nil
}

func (a Archive) stat(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	st, err := a.S.StatPath(ctx, vars["name"], p)
	if err != nil {
		return err
	}
	if err := setPathStat(w, st); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a Archive) get(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	if r.Method == http.MethodHead {
		return a.stat(ctx, w, r, vars)
	}
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	started := false
	err = a.S.ArchivePath(ctx, vars["name"], p, func(st container.PathStat) (io.Writer, error) {
		if err := setPathStat(w, st); err != nil {
			return nil, err
		}
		w.Header().Set("Content-Type", "application/x-tar")
		w.WriteHeader(http.StatusOK)
		started = true
		return w, nil
	})
	return streamError(ctx, started, err)
}

// streamError is a handler's error once its body may have begun: after
// the status went out, the stream is cut short (the client's tar reader
// sees it end early) rather than given a JSON error in the middle.
func streamError(ctx context.Context, started bool, err error) error {
	if err == nil || !started {
		return err
	}
	if ctx.Err() == nil {
		slog.Default().Warn("stream failed after it began", "err", err)
	}
	return nil
}

func (a Archive) put(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	err = a.S.ExtractToDir(ctx, vars["name"], p, r.Body, enginecontainer.ExtractOptions{
		NoOverwriteDirNonDir: BoolValue(r, "noOverwriteDirNonDir"),
		CopyUIDGID:           BoolValue(r, "copyUIDGID"),
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a Archive) changes(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	changes, err := a.S.Changes(ctx, vars["name"])
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, changes)
}

func (a Archive) export(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	started := false
	err := a.S.Export(ctx, vars["name"], func() (io.Writer, error) {
		w.Header().Set("Content-Type", "application/x-tar")
		w.WriteHeader(http.StatusOK)
		started = true
		return w, nil
	})
	return streamError(ctx, started, err)
}
