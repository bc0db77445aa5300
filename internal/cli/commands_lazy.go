package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/gantry-dev/gantry/internal/runtimecli"
)

// Building every command with all its flags is a sixth of what a CLI
// command costs before it does anything (each pflag flag allocates and
// formats its default), and `gantry ps` or `gantry images` should cost little
// more than the request. So the root gets only the group of commands the
// arguments name; help, completion, an unknown or mistyped command, or any
// flag the root does not know before the command name, get them all.

// commandGroup adds one area's commands to the root.
type commandGroup func(root *cobra.Command)

// The groups in the order they are added when all are built: build adds to
// the image and container commands made before it.
var (
	runtimeGroup   commandGroup = func(root *cobra.Command) { root.AddCommand(runtimecli.NewCommand()) }
	imageGroup     commandGroup = addImageCommands
	containerGroup commandGroup = addContainerCommands
	volumeGroup    commandGroup = addVolumeCommands
	buildGroup     commandGroup = addBuildCommands
	networkGroup   commandGroup = addNetworkCommands
	daemonGroup    commandGroup = func(root *cobra.Command) { root.AddCommand(newDaemonCommand()) }
	contextGroup   commandGroup = func(root *cobra.Command) { root.AddCommand(newContextCommand()) }
)

func allGroups() []commandGroup {
	return []commandGroup{runtimeGroup, imageGroup, containerGroup, volumeGroup, buildGroup, networkGroup, daemonGroup, contextGroup}
}

// groupsOf returns the groups that make the top-level command name (and
// everything under it), nil when the name is not known here.
// TestLazyCommandsMatchTheFullTree keeps this table true.
func groupsOf(name string) []commandGroup {
	switch name {
	case "runtime":
		return []commandGroup{runtimeGroup}
	case "image":
		return []commandGroup{imageGroup, buildGroup}
	case "container":
		return []commandGroup{containerGroup, buildGroup}
	case "history", "images", "list", "import", "load", "login", "logout", "pull", "push", "rmi", "save", "system", "tag":
		return []commandGroup{imageGroup}
	case "attach", "cp", "create", "diff", "events", "exec", "export", "info", "inspect", "kill", "logs", "pause",
		"port", "ps", "rename", "restart", "rm", "run", "start", "stats", "stop", "top", "unpause", "update", "version", "wait":
		return []commandGroup{containerGroup}
	case "volume":
		return []commandGroup{volumeGroup}
	case "build", "builder", "commit":
		return []commandGroup{buildGroup}
	case "network":
		return []commandGroup{networkGroup}
	case "daemon":
		return []commandGroup{daemonGroup}
	case "context":
		return []commandGroup{contextGroup}
	}
	return nil
}

// addCommands adds to root the commands args (without the program name)
// may run.
func addCommands(root *cobra.Command, args []string) {
	groups := groupsOf(commandName(args))
	if groups == nil {
		groups = allGroups()
	}
	for _, add := range groups {
		add(root)
	}
}

// commandName is the first argument after the root's own flags, "" when
// there is none or a flag the root does not have comes first.
func commandName(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-H" || a == "--host" || a == "-c" || a == "--context":
			i++ // its value
		case strings.HasPrefix(a, "--host=") || strings.HasPrefix(a, "--context=") ||
			(strings.HasPrefix(a, "-H") && len(a) > 2) || (strings.HasPrefix(a, "-c") && len(a) > 2):
		case strings.HasPrefix(a, "-"):
			return "" // --help, --version, or a mistake: cobra deals with it
		default:
			return a
		}
	}
	return ""
}
