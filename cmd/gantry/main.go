// Command gantry is the whole engine in one binary; the first argument picks
// its role (see ARCHITECTURE.md).
package main

import (
	"os"

	// The nsenter constructor runs in C before the Go runtime when the binary
	// is started as a container's init; it must be linked into the binary.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	// Lets the cgroup managers apply device rules.
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/runc/libcontainer"

	"github.com/gantry-dev/gantry/internal/cli"
)

func main() {
	// The container's init: nothing else may run before it, and it never returns.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
	os.Exit(cli.Main(os.Args))
}
