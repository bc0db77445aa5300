package client

import (
	"fmt"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
)

// parseAPIVersion checks a "major.minor" version and returns it canonical.
func parseAPIVersion(v string) (string, error) {
	if strings.TrimSpace(v) == "" {
		return "", cerrdefs.ErrInvalidArgument.WithMessage("value is empty")
	}
	if strings.HasPrefix(v, "v") {
		return "", cerrdefs.ErrInvalidArgument.WithMessage("must be formatted <major>.<minor>")
	}
	maj, min, ok := strings.Cut(v, ".")
	if !ok {
		return "", cerrdefs.ErrInvalidArgument.WithMessage("must be formatted <major>.<minor>")
	}
	major, err := strconv.Atoi(maj)
	if err != nil {
		return "", cerrdefs.ErrInvalidArgument.WithMessage("invalid major version: must be formatted <major>.<minor>")
	}
	minor, err := strconv.Atoi(min)
	if err != nil {
		return "", cerrdefs.ErrInvalidArgument.WithMessage("invalid minor version: must be formatted <major>.<minor>")
	}
	return fmt.Sprintf("%d.%d", major, minor), nil
}

// versionLess compares two "major.minor[.patch]" versions numerically.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}
