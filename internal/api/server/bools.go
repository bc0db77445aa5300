package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// BoolValue reads a query flag as Docker does: absent, "", "0", "no",
// "false" and "none" are false.
func BoolValue(r *http.Request, name string) bool {
	s := strings.ToLower(strings.TrimSpace(r.FormValue(name)))
	return !(s == "" || s == "0" || s == "no" || s == "false" || s == "none")
}

// IntValue reads an integer query parameter, def when absent.
func IntValue(r *http.Request, name string, def int) (int, error) {
	s := r.FormValue(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errdefs.Invalid("invalid value for %s: %q is not a number", name, s)
	}
	return n, nil
}
