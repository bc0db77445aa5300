package flagvalue

import (
	"errors"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
)

// ParseRestartPolicy reads --restart `name[:max-retries]`. Only the syntax
// is checked; whether the name exists and the count fits is the daemon's
// to say. "" gives the zero policy rather than "no", so that older daemons
// that do not know "no" still accept the request.
func ParseRestartPolicy(policy string) (container.RestartPolicy, error) {
	if policy == "" {
		return container.RestartPolicy{}, nil
	}
	name, count, hasCount := strings.Cut(policy, ":")
	if hasCount && name == "" {
		return container.RestartPolicy{}, errors.New("invalid restart policy format: no policy provided before colon")
	}
	retries := 0
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return container.RestartPolicy{}, errors.New("invalid restart policy format: maximum retry count must be an integer")
		}
		retries = n
	}
	return container.RestartPolicy{Name: container.RestartPolicyMode(name), MaximumRetryCount: retries}, nil
}
