package runtimecli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/spf13/cobra"

	"github.com/gantry-dev/gantry/internal/runtime"
)

func newSpecCommand(g *globals) *cobra.Command {
	var bundle string
	var rootless, seccompDefault bool
	cmd := &cobra.Command{
		Use:   "spec [flags]",
		Short: "Create a new specification file (config.json) for a bundle",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := specconv.Example()
			if rootless {
				specconv.ToRootless(spec)
			}
			if seccompDefault {
				profile, err := runtime.DefaultSeccomp(spec)
				if err != nil {
					return err
				}
				spec.Linux.Seccomp = profile
			}
			path := filepath.Join(bundle, runtime.ConfigFile)
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("file %s exists: remove it first", path)
			} else if !errors.Is(err, os.ErrNotExist) {
				return err
			}
			data, err := json.MarshalIndent(spec, "", "\t")
			if err != nil {
				return err
			}
			return os.WriteFile(path, data, 0o666)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&bundle, "bundle", "b", ".", "path to the root of the bundle directory")
	f.BoolVar(&rootless, "rootless", false, "generate a configuration for a rootless container")
	f.BoolVar(&seccompDefault, "seccomp-default", false, "include Docker's default seccomp profile")
	return cmd
}
