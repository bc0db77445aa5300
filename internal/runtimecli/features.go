package runtimecli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/spf13/cobra"
)

func newFeaturesCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "features",
		Short: "Show the enabled features as JSON",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			yes := true
			var caps []string
			for _, c := range capability.ListKnown() {
				caps = append(caps, "CAP_"+upper(c.String()))
			}
			feat := features.Features{
				OCIVersionMin: "1.0.0",
				OCIVersionMax: specs.Version,
				Hooks:         configs.KnownHookNames(),
				MountOptions:  specconv.KnownMountOptions(),
				Linux: &features.Linux{
					Namespaces:   specconv.KnownNamespaces(),
					Capabilities: caps,
					Cgroup:       &features.Cgroup{V1: &yes, V2: &yes, Systemd: &yes, SystemdUser: &yes},
					MountExtensions: &features.MountExtensions{
						IDMap: &features.IDMap{Enabled: &yes},
					},
				},
				Annotations: map[string]string{},
			}
			if seccomp.Enabled {
				feat.Linux.Seccomp = &features.Seccomp{
					Enabled:        &yes,
					Actions:        seccomp.KnownActions(),
					Operators:      seccomp.KnownOperators(),
					Archs:          seccomp.KnownArchs(),
					KnownFlags:     seccomp.KnownFlags(),
					SupportedFlags: seccomp.SupportedFlags(),
				}
				major, minor, patch := seccomp.Version()
				feat.Annotations["io.github.seccomp.libseccomp.version"] = fmt.Sprintf("%d.%d.%d", major, minor, patch)
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "    ")
			return enc.Encode(feat)
		},
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}
