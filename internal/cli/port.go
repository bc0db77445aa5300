package cli

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
)

// newPortCommand is `port CONTAINER [PRIVATE_PORT[/PROTO]]`: the
// container's published ports, in the docker CLI's format.
func newPortCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return argError(cmd, "requires at least 1 and at most 2 arguments")
			}
			return nil
		},
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			res, err := api.ContainerInspect(ctx, args[0], apiclient.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			var ports network.PortMap
			if ns := res.Container.NetworkSettings; ns != nil {
				ports = ns.Ports
			}
			out := cmd.OutOrStdout()
			if len(args) == 2 {
				spec := args[1]
				if !strings.Contains(spec, "/") {
					spec += "/tcp"
				}
				p, err := network.ParsePort(spec)
				if err != nil {
					return fmt.Errorf("Error: invalid port (%s): %v", args[1], err)
				}
				if bs, ok := ports[p]; ok && len(bs) > 0 {
					for _, b := range bs {
						fmt.Fprintln(out, hostPortString(b))
					}
					return nil
				}
				return fmt.Errorf("Error: No public port '%s' published for %s", p, args[0])
			}
			keys := make([]network.Port, 0, len(ports))
			for p := range ports {
				keys = append(keys, p)
			}
			sort.Slice(keys, func(i, j int) bool {
				if keys[i].Num() != keys[j].Num() {
					return keys[i].Num() < keys[j].Num()
				}
				return keys[i].Proto() < keys[j].Proto()
			})
			for _, p := range keys {
				for _, b := range ports[p] {
					fmt.Fprintf(out, "%s -> %s\n", p, hostPortString(b))
				}
			}
			return nil
		}),
	}
}

func hostPortString(b network.PortBinding) string {
	ip := "0.0.0.0"
	if b.HostIP.IsValid() {
		ip = b.HostIP.String()
	}
	return net.JoinHostPort(ip, b.HostPort)
}
