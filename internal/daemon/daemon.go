package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/api/server"
	"github.com/gantry-dev/gantry/internal/engine/container"
	"github.com/gantry-dev/gantry/internal/engine/diskusage"
	"github.com/gantry-dev/gantry/internal/engine/events"
	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/image"
	"github.com/gantry-dev/gantry/internal/logger"
	"github.com/gantry-dev/gantry/internal/registry"
	"github.com/gantry-dev/gantry/internal/volume"
)

// Run serves until ctx ends (SIGTERM), then shuts down cleanly; containers
// keep running under their shims.
func Run(ctx context.Context, cfg Config, version string) error {
	cfg.fillDefaults()
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	out := os.Stderr
	if cfg.LogFile != "" {
		f, err := os.OpenFile(cfg.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	if err := logger.Validate(logger.Config{Driver: cfg.LogDriver, Opts: cfg.LogOpts}); err != nil {
		return err
	}
	for _, d := range []string{cfg.DataRoot, cfg.ExecRoot} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return err
		}
	}
	unlock, err := lockDataRoot(cfg.DataRoot)
	if err != nil {
		return err
	}
	defer unlock()

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	images, err := image.Open(ctx, cfg.DataRoot, image.Options{
		Registry: registry.Options{Insecure: cfg.InsecureRegistries},
		// A burst of requests opens gantry.db once; an idle daemon lets
		// `gantry system check` open it.
		MetadataLinger: 500 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	defer images.Close()
	// Removals answer once the container is gone from sight.
	images.Snapshots().DeleteInBackground()
	bus := events.New()
	volumes, err := volume.Open(ctx, volume.Config{DataRoot: cfg.DataRoot, Events: bus, Log: log})
	if err != nil {
		return err
	}
	networks, err := openNetwork(ctx, cfg, log, bus)
	if err != nil {
		return err
	}
	containers, err := container.Open(ctx, container.Config{
		DataRoot: cfg.DataRoot, ExecRoot: cfg.ExecRoot, ShimExe: exe,
		Images: images, Volumes: volumes, Events: bus, Log: log,
		LogConfig:      logger.Config{Driver: cfg.LogDriver, Opts: cfg.LogOpts},
		DefaultUlimits: cfg.ulimits(),
		CgroupParent:   cfg.CgroupParent,
		Network:        networks,
	})
	if err != nil {
		return err
	}
	defer containers.Close()

	builder, buildAPI := buildRouters(cfg.DataRoot, images, containers)
	du := &diskusage.Service{Images: images, Containers: containers, Volumes: volumeUsage{volumes}}
	du.BuildCache = buildCacheUsage{builder, du}
	srv := server.New(version, append([]server.Router{
		server.System{Version: version, DataRoot: cfg.DataRoot, Containers: containers, Images: images, Events: bus, LogDriver: cfg.LogDriver, ID: daemonID(cfg.DataRoot)},
		server.Containers{S: containers},
		server.ContainerOps{S: containers},
		server.Archive{S: containers},
		server.Housekeeping{Containers: containers, DiskUsage: du},
		server.Networks{R: networks, Containers: containers},
		server.Images{S: images, InUse: containers.ImageInUse, Events: bus, Lists: &server.ListCache{}},
		server.Volumes{S: volumes},
	}, buildAPI...), server.WithLogger(log))
	hs := &http.Server{Handler: releaseWhenIdle(srv, 3*time.Second), ConnContext: server.WithConn, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	var listeners []net.Listener
	for _, h := range cfg.Hosts {
		l, err := listen(h, cfg.TLS)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return err
		}
		listeners = append(listeners, l)
	}
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { errc <- hs.Serve(l) }()
	}
	// An idle daemon gives back what a burst of work made it take.
	go func() {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				debug.FreeOSMemory()
			case <-ctx.Done():
				return
			}
		}
	}()
	log.Info("gantry daemon serving", "hosts", strings.Join(cfg.Hosts, ","), "data-root", cfg.DataRoot, "version", version)
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("serving", "err", err)
		}
	}
	log.Info("shutting down; containers keep running")
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	hs.Close()
	for _, h := range cfg.Hosts {
		if p, ok := strings.CutPrefix(h, "unix://"); ok {
			os.Remove(p)
		}
	}
	return nil
}

// lockDataRoot makes this the one daemon of its data root.
func lockDataRoot(root string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(root, "daemon.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, errdefs.Conflict("another gantry daemon is using the data root %s: stop it first, or give this one another --data-root", root)
	}
	_ = f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return func() { f.Close() }, nil
}

// daemonID is a stable identity for /info, made once per data root.
func daemonID(root string) string {
	path := filepath.Join(root, "engine-id")
	if data, err := os.ReadFile(path); err == nil && len(data) > 0 {
		return strings.TrimSpace(string(data))
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	_ = os.WriteFile(path, []byte(id+"\n"), 0o600)
	return id
}
