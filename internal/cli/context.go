package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gantry-dev/gantry/internal/clicontext"
)

// The context commands share the docker CLI's store: a context made by one
// tool is used by the other.
func newContextCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "context", Short: "Manage contexts (named daemon endpoints, shared with the docker CLI)"}
	cmd.AddCommand(newContextCreateCommand(), newContextLsCommand(), newContextUseCommand(),
		newContextInspectCommand(), newContextRmCommand(), newContextShowCommand())
	return cmd
}

type contextCreateOptions struct {
	description string
	docker      string
	from        string
}

func newContextCreateCommand() *cobra.Command {
	var o contextCreateOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] CONTEXT",
		Short: "Create a context",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runContextCreate(cmd, args[0], o)
		},
	}
	cmd.Flags().StringVar(&o.description, "description", "", "Description of the context")
	cmd.Flags().StringVar(&o.docker, "docker", "", "set the docker endpoint (host=unix:///run/gantry/gantry.sock,skip-tls-verify=false)")
	cmd.Flags().StringVar(&o.from, "from", "", "create context from a named context")
	return cmd
}

func runContextCreate(cmd *cobra.Command, name string, o contextCreateOptions) error {
	if err := validContextName(name); err != nil {
		return err
	}
	store := clicontext.Open("")
	c := clicontext.Context{Name: name, Metadata: clicontext.Metadata{Description: o.description}}
	var ep clicontext.Endpoint
	switch {
	case o.docker != "":
		for _, kv := range strings.Split(o.docker, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "host":
				ep.Host = v
			case "skip-tls-verify":
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("invalid value for skip-tls-verify: %q", v)
				}
				ep.SkipTLSVerify = b
			default:
				return fmt.Errorf("unrecognized config key: %s", k)
			}
		}
	case o.from != "" && o.from != clicontext.DefaultName:
		from, err := store.Get(o.from)
		if err != nil {
			return err
		}
		ep = from.Endpoints["docker"]
	default:
		// As docker: a context from the current environment's endpoint.
		ep.Host, _ = hostFromEnvironment(store)
	}
	c.Endpoints = map[string]clicontext.Endpoint{"docker": ep}
	if err := store.Create(c); err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), name)
	fmt.Fprintf(cmd.ErrOrStderr(), "Successfully created context %q\n", name)
	return nil
}

// validContextName is the docker CLI's rule for context names.
func validContextName(name string) error {
	if name == "" {
		return fmt.Errorf("context name cannot be empty")
	}
	if name == clicontext.DefaultName {
		return fmt.Errorf(`"default" is a reserved context name`)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || i > 0 && strings.ContainsRune("_.+-", r)
		if !ok {
			return fmt.Errorf("context name %q is invalid, names are validated against regexp \"^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$\"", name)
		}
	}
	return nil
}

func newContextLsCommand() *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List contexts",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store := clicontext.Open("")
			current := currentContextName(cmd, store)
			all, err := contextsWithDefault(store)
			if err != nil {
				return err
			}
			if quiet {
				for _, c := range all {
					fmt.Fprintln(cmd.OutOrStdout(), c.Name)
				}
				return nil
			}
			var rows []map[string]any
			var jsonRows []any
			for _, c := range all {
				name := c.Name
				if c.Name == current {
					name += " *"
				}
				rows = append(rows, map[string]any{"Name": name, "Description": c.Metadata.Description, "DockerEndpoint": c.Host(), "Error": "", "Current": c.Name == current})
				jsonRows = append(jsonRows, map[string]any{"Name": c.Name, "Description": c.Metadata.Description, "DockerEndpoint": c.Host(), "Error": "", "Current": c.Name == current})
			}
			return table{
				out: cmd.OutOrStdout(), format: format,
				defaults: "table {{.Name}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}",
				headers:  map[string]string{"Name": "NAME", "Description": "DESCRIPTION", "DockerEndpoint": "DOCKER ENDPOINT", "Error": "ERROR", "Current": "CURRENT"},
			}.print(rows, jsonRows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only show context names")
	return cmd
}

// contextsWithDefault is the stored contexts after the built-in "default".
func contextsWithDefault(store *clicontext.Store) ([]clicontext.Context, error) {
	stored, err := store.List()
	if err != nil {
		return nil, err
	}
	host, _ := hostFromEnvironment(nil)
	def := clicontext.Context{
		Name:      clicontext.DefaultName,
		Metadata:  clicontext.Metadata{Description: "Current DOCKER_HOST based configuration"},
		Endpoints: map[string]clicontext.Endpoint{"docker": {Host: host}},
	}
	return append([]clicontext.Context{def}, stored...), nil
}

func newContextUseCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "use CONTEXT",
		Short: "Set the current context",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := clicontext.Open("").Use(name); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), name)
			fmt.Fprintf(cmd.ErrOrStderr(), "Current context is now %q\n", name)
			for _, env := range []string{"GANTRY_HOST", "DOCKER_HOST"} {
				if os.Getenv(env) != "" && name != clicontext.DefaultName {
					fmt.Fprintf(cmd.ErrOrStderr(), "Warning: %s environment variable overrides the active context. To use %q, either set the global --context flag, or unset %s environment variable.\n", env, name, env)
				}
			}
			return nil
		},
	}
}

func newContextShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Print the name of the current context",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), currentContextName(cmd, clicontext.Open("")))
			return nil
		},
	}
}

func newContextInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] [CONTEXT] [CONTEXT...]",
		Short: "Display detailed information on one or more contexts",
		RunE: func(cmd *cobra.Command, args []string) error {
			store := clicontext.Open("")
			if len(args) == 0 {
				args = []string{currentContextName(cmd, store)}
			}
			all, err := contextsWithDefault(store)
			if err != nil {
				return err
			}
			var raws [][]byte
			for _, name := range args {
				var found *clicontext.Context
				for i := range all {
					if all[i].Name == name {
						found = &all[i]
					}
				}
				if found == nil {
					return fmt.Errorf("context %q does not exist", name)
				}
				meta := filepath.Join(store.Dir(), "contexts", "meta")
				raw, err := json.Marshal(map[string]any{
					"Name": found.Name, "Metadata": found.Metadata, "Endpoints": found.Endpoints,
					"TLSMaterial": map[string]any{},
					"Storage":     map[string]string{"MetadataPath": meta, "TLSPath": filepath.Join(store.Dir(), "contexts", "tls")},
				})
				if err != nil {
					return err
				}
				raws = append(raws, raw)
			}
			return printInspect(cmd.OutOrStdout(), format, raws)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

func newContextRmCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm CONTEXT [CONTEXT...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more contexts",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store := clicontext.Open("")
			current, _ := store.Current()
			var failed []string
			for _, name := range args {
				var err error
				switch {
				case name == clicontext.DefaultName:
					err = fmt.Errorf("default: context \"default\" cannot be removed")
				case name == current && !force:
					err = fmt.Errorf("%s: context is in use, set -f flag to force remove", name)
				default:
					if err = store.Remove(name); err == nil && name == current {
						err = store.Use(clicontext.DefaultName)
					}
				}
				if err != nil {
					failed = append(failed, err.Error())
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), name)
			}
			if len(failed) > 0 {
				return fmt.Errorf("failed to remove contexts: %s", strings.Join(failed, "; "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of a context in use")
	return cmd
}
