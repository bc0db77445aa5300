package daemon

import (
	"context"
	"os"
	"path/filepath"

	"github.com/gantry-dev/gantry/internal/api/server"
	"github.com/gantry-dev/gantry/internal/build"
	"github.com/gantry-dev/gantry/internal/engine/container"
	"github.com/gantry-dev/gantry/internal/image"
	"github.com/gantry-dev/gantry/internal/snapshot"
)

// stepRunner runs the builder's RUN steps through the container service:
// a step's command runs exactly as `run` runs a container.
type stepRunner struct{ c *container.Service }

func (s stepRunner) RunStep(ctx context.Context, r build.StepRun) (int, *snapshot.Staged, error) {
	return s.c.RunStep(ctx, container.StepRequest{
		Base:        container.BaseImage{ID: r.ImageID, Layers: r.Layers, Config: r.Image},
		Config:      r.Config,
		NetworkMode: r.NetworkMode,
		Output:      r.Output,
		Binds:       r.Binds,
		Tmpfs:       r.Tmpfs,
	})
}

// buildRouters is the builder and commit areas of the API, and the builder.
func buildRouters(dataRoot string, images *image.Service, containers *container.Service) (*build.Builder, []server.Router) {
	tmp := filepath.Join(dataRoot, "build")
	containers.RemoveStepContainers(context.Background())
	b := build.New(images, stepRunner{containers}, filepath.Join(tmp, "work"))
	contexts := filepath.Join(tmp, "contexts")
	_ = os.RemoveAll(contexts) // left by a daemon killed mid-build
	_ = os.MkdirAll(contexts, 0o700)
	return b, []server.Router{
		server.Build{B: b, TmpDir: contexts},
		server.Commit{Containers: containers, Images: images},
	}
}
