package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	mobycontainer "github.com/moby/moby/api/types/container"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gantry-dev/gantry/internal/build"
	enginecontainer "github.com/gantry-dev/gantry/internal/engine/container"
	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/image"
	"github.com/gantry-dev/gantry/internal/store"
)

// Commit is POST /commit: a container's changes as a new image.
type Commit struct {
	Containers *enginecontainer.Service
	Images     *image.Service
}

func (c Commit) Routes() []Route {
	return []Route{{"POST", "/commit", c.commit}}
}

func (c Commit) commit(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error {
	if err := r.ParseForm(); err != nil {
		return errdefs.Invalid("%v", err)
	}
	name := r.FormValue("container")
	insp, err := c.Containers.Inspect(ctx, name, false)
	if err != nil {
		return err
	}
	ref := r.FormValue("repo")
	if tag := r.FormValue("tag"); tag != "" && ref != "" {
		ref += ":" + tag
	}
	// Docker pauses by default; pause=0 commits a running container as it
	// goes.
	pause := r.FormValue("pause") == "" || BoolValue(r, "pause")
	if pause && insp.State != nil && insp.State.Running && !insp.State.Paused {
		if err := c.Containers.Pause(ctx, insp.ID); err != nil {
			return err
		}
		defer func() { _ = c.Containers.Unpause(context.WithoutCancel(ctx), insp.ID) }()
	}
	parent, err := c.Images.Config(ctx, digestOf(insp.Image))
	if err != nil {
		return err
	}
	img := *parent
	img.History = slices.Clone(parent.History)
	img.RootFS.DiffIDs = slices.Clone(parent.RootFS.DiffIDs)
	img.Config = imageConfigOf(insp.Config)
	if r.ContentLength > 0 {
		var extra mobycontainer.Config
		if err := json.NewDecoder(r.Body).Decode(&extra); err == nil {
			mergeCommitConfig(&img.Config, imageConfigOf(&extra))
		}
	}
	if err := build.ApplyChanges(&img.Config, r.Form["changes"]); err != nil {
		return err
	}
	snaps := c.Images.Snapshots()
	upper, err := snaps.UpperDir(insp.ID)
	if err != nil {
		return err
	}
	st, err := snaps.Stage(ctx)
	if err != nil {
		return err
	}
	defer st.Abort()
	var parentChain digest.Digest
	for _, d := range parent.RootFS.DiffIDs {
		parentChain = store.ChainID(parentChain, d)
	}
	l, err := c.Images.CommitLayer(ctx, st, upper, parentChain)
	if err != nil {
		return err
	}
	go func() { _ = c.Images.CompressLayer(context.Background(), l.ChainID) }()
	now := time.Now().UTC()
	img.Created = &now
	img.Author = r.FormValue("author")
	img.RootFS.DiffIDs = append(img.RootFS.DiffIDs, l.DiffID)
	createdBy := strings.TrimSpace(insp.Path + " " + strings.Join(insp.Args, " "))
	img.History = append(img.History, ocispec.History{Created: &now, CreatedBy: createdBy, Author: img.Author, Comment: r.FormValue("comment")})
	id, err := c.Images.CreateImage(ctx, &img, digestOf(insp.Image), []string{ref})
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, mobycontainer.CommitResponse{ID: id.String()})
}

// imageConfigOf is the image config a container's config makes.
func imageConfigOf(c *mobycontainer.Config) dockerspec.DockerOCIImageConfig {
	var out dockerspec.DockerOCIImageConfig
	if c == nil {
		return out
	}
	out.User = c.User
	out.Env = slices.Clone(c.Env)
	out.Cmd = slices.Clone(c.Cmd)
	out.Entrypoint = slices.Clone(c.Entrypoint)
	out.WorkingDir = c.WorkingDir
	out.StopSignal = c.StopSignal
	out.OnBuild = slices.Clone(c.OnBuild)
	out.Shell = slices.Clone(c.Shell)
	out.Healthcheck = c.Healthcheck
	if len(c.Labels) > 0 {
		out.Labels = map[string]string{}
		for k, v := range c.Labels {
			out.Labels[k] = v
		}
	}
	if len(c.Volumes) > 0 {
		out.Volumes = map[string]struct{}{}
		for k := range c.Volumes {
			out.Volumes[k] = struct{}{}
		}
	}
	if len(c.ExposedPorts) > 0 {
		out.ExposedPorts = map[string]struct{}{}
		for p := range c.ExposedPorts {
			out.ExposedPorts[p.String()] = struct{}{}
		}
	}
	return out
}

// mergeCommitConfig lays the request body's config over the container's.
func mergeCommitConfig(dst *dockerspec.DockerOCIImageConfig, src dockerspec.DockerOCIImageConfig) {
	if src.User != "" {
		dst.User = src.User
	}
	if len(src.Cmd) > 0 {
		dst.Cmd = src.Cmd
	}
	if len(src.Entrypoint) > 0 {
		dst.Entrypoint = src.Entrypoint
	}
	if len(src.Env) > 0 {
		dst.Env = src.Env
	}
	if src.WorkingDir != "" {
		dst.WorkingDir = src.WorkingDir
	}
	for k, v := range src.Labels {
		if dst.Labels == nil {
			dst.Labels = map[string]string{}
		}
		dst.Labels[k] = v
	}
}

func digestOf(s string) digest.Digest { return digest.Digest(s) }
