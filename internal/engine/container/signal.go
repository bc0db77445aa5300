package container

import (
	"context"
	"errors"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/shim"
)

// signal sends sig to container id's init (with all, to every process in
// it) through its shim, which holds the container. The runtime, which
// reads the container's state back from disk, is the way when the shim
// cannot answer: it is gone, or older than the "kill" request.
func (s *Service) signal(ctx context.Context, id string, sig unix.Signal, all bool) error {
	err := shim.NewClient(s.socketPath(id)).Kill(ctx, sig, all)
	if err == nil {
		return nil
	}
	if errors.Is(err, shim.ErrGone) || (errors.Is(err, errdefs.ErrInvalid) && strings.Contains(err.Error(), "unknown op")) {
		return s.rt.Kill(ctx, id, sig, all)
	}
	return err
}
