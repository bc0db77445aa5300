package container

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/logger"
)

// CreateRequest is POST /containers/create.
type CreateRequest struct {
	Name       string
	Config     *container.Config
	HostConfig *container.HostConfig
	// Base, when set, is the root filesystem and config to use in place of
	// Config.Image: a build step's state, which is no image (buildstep.go).
	Base       *BaseImage
	Networking *network.NetworkingConfig
}

// Create makes a container: checks everything first, then its writable
// layer, files and record. A failure leaves nothing behind.
func (s *Service) Create(ctx context.Context, req CreateRequest) (id string, warnings []string, err error) {
	cfg, hc := req.Config, req.HostConfig
	if cfg == nil {
		return "", nil, errdefs.Invalid("config cannot be empty in order to create a container")
	}
	if hc == nil {
		hc = &container.HostConfig{}
	}
	name := strings.TrimPrefix(req.Name, "/")
	if name != "" && !validName(name) {
		return "", nil, errdefs.Invalid("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	if cfg.Image == "" {
		return "", nil, errdefs.Invalid("no image given: name the image to create the container from")
	}
	img, imgCfg, err := s.imageOf(ctx, cfg.Image, req.Base)
	if err != nil {
		return "", nil, err
	}
	merged := mergeImageConfig(cfg, &imgCfg.Config)
	merged.Healthcheck = mergeHealthcheck(merged.Healthcheck, &imgCfg.Config)
	if len(merged.Entrypoint) == 0 && len(merged.Cmd) == 0 {
		return "", nil, errdefs.Invalid("no command specified")
	}
	if err := s.checkHostConfig(hc); err != nil {
		return "", nil, err
	}
	if warnings, err = checkResources(&hc.Resources, false); err != nil {
		return "", nil, err
	}
	if err := checkHealth(merged, hc); err != nil {
		return "", nil, err
	}
	if err := s.checkNetwork(merged, hc); err != nil {
		return "", nil, err
	}
	if err := checkJoinedOptions(cfg, hc); err != nil {
		return "", nil, err
	}
	mac, ip, aliases, err := endpointOptions(hc, req.Networking)
	if err != nil {
		return "", nil, err
	}
	connections, err := s.connectionsAtCreate(hc, req.Networking)
	if err != nil {
		return "", nil, err
	}
	if hc.LogConfig.Type == "" {
		hc.LogConfig.Type = s.cfg.LogConfig.Driver
		if len(hc.LogConfig.Config) == 0 {
			hc.LogConfig.Config = s.cfg.LogConfig.Opts
		}
	}
	if err := logger.Validate(logger.Config{Driver: hc.LogConfig.Type, Opts: hc.LogConfig.Config}); err != nil {
		return "", nil, err
	}
	if hc.NetworkMode == "" || hc.NetworkMode == "default" {
		hc.NetworkMode = "bridge"
	}
	// The spec is built now so that every bad option fails the create, not
	// the start.
	rec := Record{
		ID:         newID(),
		Created:    time.Now().UTC(),
		Image:      cfg.Image,
		ImageID:    img.ID,
		Config:     merged,
		HostConfig: hc,
		State:      State{Status: container.StateCreated},
		MacAddress: mac,
		IP:         ip,
		Aliases:    aliases,
	}
	rec.Connections = connections
	if n := len(img.Layers); n > 0 {
		rec.Layer = img.Layers[n-1]
	}
	rec.Path, rec.Args = command(merged)
	if rec.Mounts, err = s.planMounts(&rec); err != nil {
		return "", nil, err
	}
	if merged.Hostname == "" {
		merged.Hostname = rec.ID[:12]
	}
	if _, err := s.buildSpec(&rec, "/nonexistent"); err != nil {
		return "", nil, err
	}

	s.mu.Lock()
	if name == "" {
		name = randomName(func(n string) bool { _, ok := s.byName[n]; return ok })
	} else if other, ok := s.byName[name]; ok {
		s.mu.Unlock()
		return "", nil, errdefs.Conflict("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", name, other)
	}
	rec.Name = name
	e := &entry{rec: rec, exited: make(chan struct{}), removed: make(chan struct{}), execs: map[string]*execRecord{}}
	// Reserve the name while the files are made.
	s.byName[name] = rec.ID
	s.mu.Unlock()

	unclaim, err := s.claimMounts(ctx, &e.rec)
	if err == nil {
		if err = s.createFiles(ctx, &e.rec); err != nil {
			unclaim()
		}
	}
	if err != nil {
		s.mu.Lock()
		delete(s.byName, name)
		s.mu.Unlock()
		s.discardFiles(rec.ID)
		return "", nil, err
	}
	s.mu.Lock()
	s.byID[rec.ID] = e
	s.mu.Unlock()
	s.publish("create", &e.rec, nil)
	return rec.ID, warnings, nil
}

// createFiles makes the writable layer and the container's directory with
// its hostname, hosts and resolv.conf; the record is written last, so a
// crash before it leaves a directory that the next start removes.
func (s *Service) createFiles(ctx context.Context, rec *Record) error {
	dir := s.containerDir(rec.ID)
	if err := os.Mkdir(dir, 0o710); err != nil {
		return err
	}
	if _, err := s.snaps.Prepare(ctx, rec.ID, rec.Layer); err != nil {
		return err
	}
	files := map[string]string{
		"hostname":    rec.Config.Hostname + "\n",
		"hosts":       s.hostsFile(rec),
		"resolv.conf": resolvConf(rec),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return save(dir, rec)
}

// discardFiles removes whatever a container left on disk.
func (s *Service) discardFiles(id string) {
	_ = s.snaps.Remove(context.Background(), id)
	_ = os.RemoveAll(s.containerDir(id))
	_ = os.RemoveAll(s.bundleDir(id))
}

// mergeImageConfig fills what the user left empty from the image's config,
// with Docker's rules for Entrypoint and Cmd: a new entrypoint drops the
// image's command; an empty (not absent) entrypoint resets it.
func mergeImageConfig(user *container.Config, img *imageConfig) *container.Config {
	c := *user
	// `--entrypoint ""` arrives as [""]: it resets the image's entrypoint.
	if len(c.Entrypoint) == 1 && c.Entrypoint[0] == "" {
		c.Entrypoint = []string{}
	}
	if len(c.Entrypoint) == 0 {
		if len(c.Cmd) == 0 {
			c.Cmd = slices.Clone(img.Cmd)
		}
		if c.Entrypoint == nil {
			c.Entrypoint = slices.Clone(img.Entrypoint)
		}
	}
	c.Env = mergeEnv(img.Env, user.Env)
	if c.User == "" {
		c.User = img.User
	}
	if c.WorkingDir == "" {
		c.WorkingDir = img.WorkingDir
	}
	if len(img.Labels) > 0 {
		labels := map[string]string{}
		for k, v := range img.Labels {
			labels[k] = v
		}
		for k, v := range user.Labels {
			labels[k] = v
		}
		c.Labels = labels
	}
	if c.StopSignal == "" {
		c.StopSignal = img.StopSignal
	}
	if len(c.ExposedPorts) == 0 && len(img.ExposedPorts) > 0 {
		c.ExposedPorts = network.PortSet{}
		for p := range img.ExposedPorts {
			if port, err := network.ParsePort(p); err == nil {
				c.ExposedPorts[port] = struct{}{}
			}
		}
	}
	if len(img.Volumes) > 0 {
		// The image's VOLUMEs and the user's (-v /path) together, as Docker.
		vols := map[string]struct{}{}
		for v := range user.Volumes {
			vols[v] = struct{}{}
		}
		for v := range img.Volumes {
			vols[v] = struct{}{}
		}
		c.Volumes = vols
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	return &c
}

// mergeEnv is the image's environment with the user's on top, by name.
func mergeEnv(image, user []string) []string {
	out := slices.Clone(image)
	index := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		index[k] = i
	}
	for _, kv := range user {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			out[i] = kv
		} else {
			index[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

// command is what Docker shows as Path and Args.
func command(c *container.Config) (string, []string) {
	argv := append(slices.Clone([]string(c.Entrypoint)), c.Cmd...)
	if len(argv) == 0 {
		return "", nil
	}
	return argv[0], argv[1:]
}

// resolvConf is the host's, which is what a container in the host's
// network or one without a network of its own can use.
func resolvConf(rec *Record) string {
	var b strings.Builder
	for _, d := range rec.HostConfig.DNS {
		fmt.Fprintf(&b, "nameserver %s\n", d)
	}
	if len(rec.HostConfig.DNSSearch) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(rec.HostConfig.DNSSearch, " "))
	}
	if len(rec.HostConfig.DNSOptions) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(rec.HostConfig.DNSOptions, " "))
	}
	if b.Len() > 0 {
		return b.String()
	}
	if onUserNetwork(rec.HostConfig) {
		return embeddedResolvConf(rec.HostConfig)
	}
	if rec.HostConfig.NetworkMode != "host" {
		return bridgeResolvConf(hostResolvConf())
	}
	return hostResolvConf()
}

type imageConfig = dockerspec.DockerOCIImageConfig
