// Command gantry is the whole engine in one binary; the first argument picks
// its role (see ARCHITECTURE.md).
package main

import (
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"

	// The nsenter constructor runs in C before the Go runtime when the binary
	// is started as a container's init; it must be linked into the binary.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	// Lets the cgroup managers apply device rules.
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/runc/libcontainer"

	"github.com/gantry-dev/gantry/internal/cli"
	// Huge pages for a short-lived role's heap; initialised early, see why there.
	_ "github.com/gantry-dev/gantry/internal/hugeheap"
	"github.com/gantry-dev/gantry/internal/reaper"
	"github.com/gantry-dev/gantry/internal/shim"
)

func main() {
	// The container's init: nothing else may run before it, and it never returns.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		// The init lives for milliseconds before it execs the program: a
		// garbage collection would only cost time.
		debug.SetGCPercent(-1)
		libcontainer.Init()
	}
	// The OCI runtime's command line runs for milliseconds, as does the
	// container's init it starts (which takes GOMAXPROCS from the
	// environment through libcontainer): one P spares both the threads
	// that would spin looking for work.
	if len(os.Args) > 1 && os.Args[1] == "runtime" && os.Getenv("GOMAXPROCS") == "" {
		goruntime.GOMAXPROCS(1)
		os.Setenv("GOMAXPROCS", "1")
	}
	// --init: the container's PID 1, bind-mounted as /sbin/docker-init.
	if filepath.Base(os.Args[0]) == "docker-init" {
		os.Exit(reaper.Main(os.Args[1:]))
	}
	// A container's supervisor: small and started often, so it skips the
	// command line's set-up.
	if len(os.Args) >= 3 && os.Args[1] == "shim" {
		if os.Args[2] == "--standby" {
			os.Exit(shim.Standby())
		}
		os.Exit(shim.Main(os.Args[2]))
	}
	os.Exit(cli.Main(os.Args))
}
