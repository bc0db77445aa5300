package runtimecli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/gantry-dev/gantry/internal/runtime"
)

type execOptions struct {
	runtime.ExecOptions
	process    string
	cwd        string
	env        []string
	tty        bool
	user       string
	groups     []int64
	label      string
	apparmor   string
	noNewPrivs bool
	caps       []string
	cgroups    []string
}

func newExecCommand(g *globals) *cobra.Command {
	var o execOptions
	cmd := &cobra.Command{
		Use:   "exec [flags] <container-id> <command> [args...]  ||  exec -p process.json <container-id>",
		Short: "Execute a new process inside the container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.runtime()
			if err != nil {
				return err
			}
			p, err := o.toProcess(rt, args, cmd.Flags().Changed("no-new-privs"))
			if err != nil {
				return &failure{err: fmt.Errorf("exec failed: %w", err), code: 255}
			}
			if o.SubCgroups, err = parseSubCgroups(o.cgroups); err != nil {
				return &failure{err: fmt.Errorf("exec failed: %w", err), code: 255}
			}
			status, err := rt.Exec(cmd.Context(), args[0], p, o.ExecOptions)
			if err != nil {
				return &failure{err: fmt.Errorf("exec failed: %w", err), code: 255}
			}
			if status != 0 {
				return &ExitError{Code: status}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // what follows the ID is the command and its own flags
	f.StringVar(&o.ConsoleSocket, "console-socket", "", "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal")
	f.StringVar(&o.cwd, "cwd", "", "current working directory in the container")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set environment variables")
	f.BoolVarP(&o.tty, "tty", "t", false, "allocate a pseudo-TTY")
	f.StringVarP(&o.user, "user", "u", "", "UID (format: <uid>[:<gid>])")
	f.Int64SliceVarP(&o.groups, "additional-gids", "g", nil, "additional gids")
	f.StringVarP(&o.process, "process", "p", "", "path to the process.json")
	f.BoolVarP(&o.Detach, "detach", "d", false, "detach from the container's process")
	f.StringVar(&o.PidFile, "pid-file", "", "specify the file to write the process id to")
	f.StringVar(&o.label, "process-label", "", "set the asm process label for the process commonly used with selinux")
	f.StringVar(&o.apparmor, "apparmor", "", "set the apparmor profile for the process")
	f.BoolVar(&o.noNewPrivs, "no-new-privs", false, "set the no new privileges value for the process")
	f.StringArrayVarP(&o.caps, "cap", "c", nil, "add a capability to the bounding set for the process")
	f.IntVar(&o.PreserveFDs, "preserve-fds", 0, "pass N additional file descriptors to the container (stdio + N in total)")
	f.StringArrayVar(&o.cgroups, "cgroup", nil, "run the process in an (existing) sub-cgroup(s); format is [<controller>:]<cgroup>")
	f.BoolVar(&o.IgnorePaused, "ignore-paused", false, "allow exec in a paused container")
	return cmd
}

// toProcess reads --process, or builds the process from the container's own
// with the command line's changes.
func (o *execOptions) toProcess(rt *runtime.Runtime, args []string, noNewPrivsSet bool) (*specs.Process, error) {
	if o.process != "" {
		data, err := os.ReadFile(o.process)
		if err != nil {
			return nil, err
		}
		var p specs.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("%s is not a valid process JSON: %w", o.process, err)
		}
		return &p, runtime.ValidateProcess(&p)
	}
	if len(args) < 2 {
		return nil, fmt.Errorf("exec args cannot be empty: give a command after the container ID, or --process")
	}
	p, err := rt.ProcessTemplate(args[0])
	if err != nil {
		return nil, err
	}
	p.Args = args[1:]
	if o.cwd != "" {
		p.Cwd = o.cwd
	}
	if o.apparmor != "" {
		p.ApparmorProfile = o.apparmor
	}
	if o.label != "" {
		p.SelinuxLabel = o.label
	}
	if len(o.caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		for _, c := range o.caps {
			p.Capabilities.Bounding = append(p.Capabilities.Bounding, c)
			p.Capabilities.Effective = append(p.Capabilities.Effective, c)
			p.Capabilities.Permitted = append(p.Capabilities.Permitted, c)
		}
	}
	p.Env = append(p.Env, o.env...)
	p.Terminal = o.tty
	if noNewPrivsSet {
		p.NoNewPrivileges = o.noNewPrivs
	}
	if o.user != "" {
		uid, gid, hasGID := strings.Cut(o.user, ":")
		if hasGID {
			n, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("bad gid %q in --user: give a number", gid)
			}
			p.User.GID = uint32(n)
		}
		n, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("bad uid %q in --user: give a number", uid)
		}
		p.User.UID = uint32(n)
	}
	for _, gid := range o.groups {
		if gid < 0 {
			return nil, fmt.Errorf("additional-gids must be a positive number %d", gid)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(gid))
	}
	return p, runtime.ValidateProcess(p)
}

// parseSubCgroups reads --cgroup values: "path" alone, or "ctrl[,ctrl]:path".
func parseSubCgroups(values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	paths := map[string]string{}
	for _, v := range values {
		ctrls, path, ok := strings.Cut(v, ":")
		if !ok {
			if len(values) != 1 {
				return nil, fmt.Errorf("invalid --cgroup %s: name its controller as <controller>:<path>", v)
			}
			paths[""] = v
			continue
		}
		for c := range strings.SplitSeq(ctrls, ",") {
			if c == "" {
				return nil, fmt.Errorf("invalid --cgroup %s: empty controller", v)
			}
			if _, dup := paths[c]; dup {
				return nil, fmt.Errorf("invalid --cgroup: controller %s given twice", c)
			}
			paths[c] = path
		}
	}
	return paths, nil
}
