package container

import (
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// checkHostConfig refuses, before anything is made, what gantry does not
// do (yet) or what makes no sense.
func (s *Service) checkHostConfig(hc *container.HostConfig) error {
	if hc.RestartPolicy.Name != RestartOnUnhealthy {
		if err := container.ValidateRestartPolicy(hc.RestartPolicy); err != nil {
			return errdefs.Invalid("%s", strings.ReplaceAll(err.Error(), "or 'unless-stopped'", "'unless-stopped', or 'on-unhealthy'"))
		}
	}
	if hc.RestartPolicy.MaximumRetryCount < 0 {
		return errdefs.Invalid("invalid restart policy: maximum retry count cannot be negative")
	}
	if hc.RestartPolicy.MaximumRetryCount > 0 && hc.RestartPolicy.Name != "on-failure" {
		return errdefs.Invalid("invalid restart policy: maximum retry count can only be used with 'on-failure'")
	}
	if hc.AutoRemove && hc.RestartPolicy.Name != "" && hc.RestartPolicy.Name != "no" {
		return errdefs.Invalid("can't create 'AutoRemove' container with restart policy")
	}
	if err := s.checkNetworkMode(hc); err != nil {
		return err
	}
	if len(hc.Links) > 0 {
		return errdefs.Invalid("--link is not supported: links are a legacy Docker feature")
	}
	if hc.Runtime != "" && hc.Runtime != "runc" && hc.Runtime != "gantry" {
		return errdefs.Invalid("unknown or invalid runtime name: %s", hc.Runtime)
	}
	for _, m := range []string{string(hc.PidMode), string(hc.IpcMode), string(hc.UTSMode), string(hc.UsernsMode)} {
		if m != "" && m != "private" && !(m == "shareable" || strings.HasPrefix(m, "shareable")) {
			return errdefs.Invalid("namespace mode %q is not supported yet", m)
		}
	}
	return nil
}
