package container

import (
	"context"
	"io"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/go-digest"

	"github.com/gantry-dev/gantry/internal/snapshot"
	"github.com/gantry-dev/gantry/internal/store"
)

// BaseImage is what a container is made from when it is not an image of
// the store: a build step's layers and config.
type BaseImage struct {
	ID     digest.Digest   // shown as the container's image; need not exist
	Layers []digest.Digest // chain IDs, base first
	Config *dockerspec.DockerOCIImage
}

// imageOf is the image a create names, or its Base.
func (s *Service) imageOf(ctx context.Context, name string, base *BaseImage) (store.Image, *dockerspec.DockerOCIImage, error) {
	if base != nil {
		return store.Image{ID: base.ID, Layers: base.Layers}, base.Config, nil
	}
	img, err := s.images.Resolve(ctx, name)
	if err != nil {
		return store.Image{}, nil, err
	}
	cfg, err := s.images.Config(ctx, img.ID)
	return img, cfg, err
}

// StepLabel marks a build step's container, so that one a killed daemon
// left is removed by the next (RemoveStepContainers).
const StepLabel = "dev.gantry.build-step"

// RemoveStepContainers removes the containers of build steps that a daemon
// killed mid-build left.
func (s *Service) RemoveStepContainers(ctx context.Context) {
	for _, e := range s.all() {
		if _, ok := e.rec.Config.Labels[StepLabel]; ok {
			if err := s.Remove(ctx, e.rec.ID, RemoveOptions{Force: true}); err != nil {
				s.log.Warn("removing a build step's container", "id", e.rec.ID, "err", err)
			}
		}
	}
}

// StepRequest is a builder's RUN: a command in a throw-away container on
// top of the step's state.
type StepRequest struct {
	Base        BaseImage
	Config      *container.Config // Cmd, Env, User, WorkingDir, Labels
	NetworkMode string
	Output      io.Writer // stdout and stderr, as they come
	Binds       []string  // RUN --mount=type=cache
	Tmpfs       map[string]string
}

// RunStep runs a build step's command to its end in a container that is
// removed afterwards, and hands over the container's writable layer
// (unmounted, staged for CommitLayer) when the command succeeded. The
// container goes through the usual create and start, so the command runs
// exactly as `run` would run it.
func (s *Service) RunStep(ctx context.Context, req StepRequest) (exitCode int, upper *snapshot.Staged, err error) {
	cfg := *req.Config
	cfg.AttachStdout, cfg.AttachStderr = true, true
	cfg.Labels = map[string]string{StepLabel: "1"}
	hc := &container.HostConfig{NetworkMode: container.NetworkMode(req.NetworkMode), Binds: req.Binds, Tmpfs: req.Tmpfs}
	base := req.Base
	id, _, err := s.Create(ctx, CreateRequest{Config: &cfg, HostConfig: hc, Base: &base})
	if err != nil {
		return 0, nil, err
	}
	defer func() {
		if rerr := s.Remove(context.Background(), id, RemoveOptions{Force: true}); rerr != nil && err == nil {
			err = rerr
		}
	}()
	att, err := s.Attach(ctx, id, false, true, true)
	if err != nil {
		return 0, nil, err
	}
	waitC, err := s.Wait(ctx, id, container.WaitConditionNextExit)
	if err != nil {
		att.Close()
		return 0, nil, err
	}
	if err := s.Start(ctx, id); err != nil {
		att.Close()
		return 0, nil, err
	}
	st, err := att.Stream(ctx)
	if err != nil {
		return 0, nil, err
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = stdcopy.StdCopy(req.Output, req.Output, st)
	}()
	var res WaitResult
	select {
	case res = <-waitC:
	case <-ctx.Done():
		_ = s.Kill(context.Background(), id, "KILL")
		res = <-waitC
	}
	<-copied
	st.Close()
	if res.Err != nil {
		return 0, nil, res.Err
	}
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	if res.ExitCode != 0 {
		return res.ExitCode, nil, nil
	}
	// The exit unmounted the root filesystem (the monitor records the
	// exit before waiters hear of it).
	upper, err = s.snaps.TakeUpper(ctx, id)
	return 0, upper, err
}
