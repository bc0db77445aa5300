package server

import (
	"context"
	"net/http"
)

// df is GET /system/df: what images, containers, volumes and build cache
// take on disk, measured from the files (each hardlinked file once);
// "type" (repeatable) limits it to some of them.
func (h Housekeeping) df(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	rep, err := h.DiskUsage.Report(ctx, r.Form["type"]...)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, rep)
}
