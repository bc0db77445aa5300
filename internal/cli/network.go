package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
)

// addNetworkCommands adds `network create|ls|inspect|rm|prune|connect|
// disconnect`, with the docker CLI's flags and output.
func addNetworkCommands(root *cobra.Command) {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Manage networks",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	sub := []*cobra.Command{newNetworkCreateCommand(), newNetworkListCommand(), newNetworkInspectCommand(),
		newNetworkRemoveCommand(), newNetworkPruneCommand(), newNetworkConnectCommand(false), newNetworkConnectCommand(true)}
	for _, c := range sub {
		c.SetFlagErrorFunc(flagError)
		c.DisableFlagsInUseLine = true
	}
	cmd.AddCommand(sub...)
	root.AddCommand(cmd)
}

func newNetworkCreateCommand() *cobra.Command {
	var (
		driver, subnet, gateway string
		internal                bool
		labels, opts            []string
	)
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  exactArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			req := network.CreateRequest{Name: args[0], Driver: driver, Internal: internal, Labels: keyValues(labels), Options: keyValues(opts)}
			if subnet != "" {
				p, err := netip.ParsePrefix(subnet)
				if err != nil {
					return fmt.Errorf("invalid subnet %s: %v", subnet, err)
				}
				c := network.IPAMConfig{Subnet: p}
				if gateway != "" {
					if c.Gateway, err = netip.ParseAddr(gateway); err != nil {
						return fmt.Errorf("invalid gateway %s: %v", gateway, err)
					}
				}
				req.IPAM = &network.IPAM{Driver: "default", Config: []network.IPAMConfig{c}}
			} else if gateway != "" {
				return errors.New("every ip-range or gateway must have a corresponding subnet")
			}
			res, err := api.NetworkCreate(ctx, req)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.ID)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&driver, "driver", "d", "bridge", "Driver to manage the Network")
	f.StringVar(&subnet, "subnet", "", "Subnet in CIDR format that represents a network segment")
	f.StringVar(&gateway, "gateway", "", "IPv4 Gateway for the master subnet")
	f.BoolVar(&internal, "internal", false, "Restrict external access to the network")
	f.StringArrayVar(&labels, "label", nil, "Set metadata on a network")
	f.StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options")
	return cmd
}

func keyValues(list []string) map[string]string {
	if len(list) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

func newNetworkListCommand() *cobra.Command {
	var (
		quiet, noTrunc bool
		format         string
		filters        []string
	)
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    noArgs,
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			f := apiclient.Filters{}
			for _, kv := range filters {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("bad format of filter (expected name=value)")
				}
				f.Add(k, v)
			}
			list, err := api.NetworkList(ctx, f)
			if err != nil {
				return err
			}
			// As the docker CLI: by name.
			sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
			var rows []map[string]any
			var jsonRows []any
			for _, n := range list {
				id := n.ID
				if !noTrunc && len(id) > 12 {
					id = id[:12]
				}
				row := map[string]any{"ID": id, "Name": n.Name, "Driver": n.Driver, "Scope": n.Scope,
					"IPv4": fmt.Sprint(n.EnableIPv4), "IPv6": fmt.Sprint(n.EnableIPv6), "Internal": fmt.Sprint(n.Internal),
					"CreatedAt": n.Created.String(), "Labels": joinLabels(n.Labels)}
				rows = append(rows, row)
				jsonRows = append(jsonRows, row)
			}
			if quiet {
				format = "{{.ID}}"
			}
			return table{out: cmd.OutOrStdout(), format: format,
				defaults: "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
				headers:  map[string]string{"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4", "IPv6": "IPV6", "Internal": "INTERNAL", "CreatedAt": "CREATED AT", "Labels": "LABELS"},
			}.print(rows, jsonRows)
		}),
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only display network IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate the output")
	fl.StringVar(&format, "format", "", "Format output using a custom template")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "Provide filter values (e.g. \"driver=bridge\")")
	return cmd
}

func joinLabels(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func newNetworkInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  requiresMinArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			return inspectAll(ctx, cmd.OutOrStdout(), api.host, args, format, networkObject(api))
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

func newNetworkRemoveCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    requiresMinArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			return forEach(ctx, cmd, args, func(ctx context.Context, name string) error {
				err := api.NetworkRemove(ctx, name)
				if err != nil && force && strings.Contains(err.Error(), "not found") {
					return nil
				}
				return err
			})
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}

func newNetworkPruneCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  noArgs,
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			if !force {
				fmt.Fprint(cmd.OutOrStdout(), "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ")
				var answer string
				_, _ = fmt.Fscanln(cmd.InOrStdin(), &answer)
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					return nil
				}
			}
			rep, err := api.NetworkPrune(ctx)
			if err != nil {
				return err
			}
			if len(rep.NetworksDeleted) > 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "Deleted Networks:")
				for _, n := range rep.NetworksDeleted {
					fmt.Fprintln(cmd.OutOrStdout(), n)
				}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}

func newNetworkConnectCommand(disconnect bool) *cobra.Command {
	var (
		aliases []string
		ip      string
		force   bool
	)
	use, short := "connect [OPTIONS] NETWORK CONTAINER", "Connect a container to a network"
	if disconnect {
		use, short = "disconnect [OPTIONS] NETWORK CONTAINER", "Disconnect a container from a network"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(2),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			if disconnect {
				return api.NetworkConnect(ctx, args[0], network.DisconnectRequest{Container: args[1], Force: force}, true)
			}
			es := &network.EndpointSettings{Aliases: aliases}
			if ip != "" {
				a, err := netip.ParseAddr(ip)
				if err != nil {
					return fmt.Errorf("invalid IPv4 address: %s", ip)
				}
				es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: a}
			}
			return api.NetworkConnect(ctx, args[0], network.ConnectRequest{Container: args[1], EndpointConfig: es}, false)
		}),
	}
	if disconnect {
		cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the container to disconnect from a network")
	} else {
		cmd.Flags().StringArrayVar(&aliases, "alias", nil, "Add network-scoped alias for the container")
		cmd.Flags().StringVar(&ip, "ip", "", "IPv4 address (e.g., \"172.30.100.104\")")
	}
	return cmd
}
