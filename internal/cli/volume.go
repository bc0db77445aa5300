package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/volume"
	"github.com/spf13/cobra"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
)

// addVolumeCommands adds `volume create|ls|inspect|rm|prune`.
func addVolumeCommands(root *cobra.Command) {
	volumeCmd := &cobra.Command{
		Use:   "volume",
		Short: "Manage volumes",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	sub := []*cobra.Command{
		newVolumeCreateCommand(), newVolumeLsCommand(), newVolumeInspectCommand(),
		newVolumeRmCommand(), newVolumePruneCommand(),
	}
	for _, c := range sub {
		c.SetFlagErrorFunc(flagError)
		c.DisableFlagsInUseLine = true
	}
	volumeCmd.AddCommand(sub...)
	root.AddCommand(volumeCmd)
}

func newVolumeCreateCommand() *cobra.Command {
	var name, driver string
	var labels, opts []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  cobra.MaximumNArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			if len(args) == 1 {
				if name != "" && name != args[0] {
					return &statusError{1, "conflicting options: cannot specify a volume-name through both --name and as a positional arg"}
				}
				name = args[0]
			}
			req := apiclient.VolumeCreateOptions{Name: name, Driver: driver, Labels: kvMap(labels), DriverOpts: kvMap(opts)}
			v, err := api.VolumeCreate(ctx, req)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), v.Name)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&driver, "driver", "d", "local", "Specify volume driver name")
	f.StringArrayVar(&labels, "label", nil, "Set metadata for a volume")
	f.StringVar(&name, "name", "", "Specify volume name")
	_ = f.MarkHidden("name")
	f.StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options")
	return cmd
}

// kvMap reads `k=v` (or a bare `k`) values into a map; nil when empty.
func kvMap(list []string) map[string]string {
	if len(list) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func newVolumeLsCommand() *cobra.Command {
	var quiet bool
	var format string
	var filters []string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    noArgs,
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			f, err := filtersOf(filters)
			if err != nil {
				return err
			}
			res, err := api.VolumeList(ctx, apiclient.VolumeListOptions{Filters: f})
			if err != nil {
				return err
			}
			vols := res.Volumes
			sort.SliceStable(vols, func(i, j int) bool { return naturalLess(vols[i].Name, vols[j].Name) })
			out := cmd.OutOrStdout()
			for _, w := range res.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), w)
			}
			if quiet && format == "" {
				for _, v := range vols {
					fmt.Fprintln(out, v.Name)
				}
				return nil
			}
			return printVolumes(out, format, vols)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	f.StringVar(&format, "format", "", "Format output using a custom template")
	f.StringArrayVarP(&filters, "filter", "f", nil, "Provide filter values (e.g. \"dangling=true\")")
	return cmd
}

// volumeRow is a volume as the docker CLI's formatter shows it: every
// field a string.
func volumeRow(v volume.Volume) map[string]any {
	labels := make([]string, 0, len(v.Labels))
	for k, val := range v.Labels {
		labels = append(labels, k+"="+val)
	}
	slices.Sort(labels)
	size, links := "N/A", "N/A"
	if v.UsageData != nil {
		size = humanSize(v.UsageData.Size)
		links = fmt.Sprint(v.UsageData.RefCount)
	}
	return map[string]any{
		"Name": v.Name, "Driver": v.Driver, "Scope": v.Scope, "Mountpoint": v.Mountpoint,
		"Labels": strings.Join(labels, ","), "Links": links, "Size": size,
		"Availability": "N/A", "Group": "N/A", "Status": "N/A",
	}
}

func printVolumes(out interface{ Write([]byte) (int, error) }, format string, vols []volume.Volume) error {
	const def = "table {{.Driver}}\t{{.Name}}"
	if format == "table" {
		format = def
	}
	rows := make([]map[string]any, 0, len(vols))
	jsonRows := make([]any, 0, len(vols))
	for _, v := range vols {
		r := volumeRow(v)
		rows = append(rows, r)
		jsonRows = append(jsonRows, r)
	}
	return table{out: out, format: format, defaults: def, headers: map[string]string{
		"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
		"Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Availability": "AVAILABILITY",
		"Group": "GROUP", "Status": "STATUS",
	}}.print(rows, jsonRows)
}

// naturalLess orders names as the docker CLI does: digit runs by value.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		if da && db {
			na, ra := digitRun(a)
			nb, rb := digitRun(b)
			ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if len(ta) != len(tb) {
				return len(ta) < len(tb)
			}
			if ta != tb {
				return ta < tb
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digitRun(s string) (run, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func newVolumeInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  requiresMinArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			return inspectAll(ctx, cmd.OutOrStdout(), api.host, args, format, volumeObject(api))
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	return cmd
}

func newVolumeRmCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Long:    "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
		Args:    requiresMinArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			var errs []string
			for _, name := range args {
				if err := api.VolumeRemove(ctx, name, force); err != nil {
					errs = append(errs, errorText(err))
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), name)
			}
			if len(errs) > 0 {
				return &statusError{1, strings.Join(errs, "\n")}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")
	return cmd
}

func newVolumePruneCommand() *cobra.Command {
	var all, force bool
	var filterFlags []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  noArgs,
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			filters, err := filtersOf(filterFlags)
			if err != nil {
				return err
			}
			if _, ok := filters["all"]; ok && all {
				return errors.New("conflicting options: cannot specify both --all and --filter all=1")
			}
			if all {
				filters.Add("all", "true")
			}
			out := cmd.OutOrStdout()
			if !force {
				msg := "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "
				if all {
					msg = "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "
				}
				fmt.Fprint(out, msg)
				var answer string
				fmt.Fscanln(cmd.InOrStdin(), &answer)
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					return nil
				}
			}
			rep, err := api.VolumePrune(ctx, filters)
			if err != nil {
				return err
			}
			if len(rep.VolumesDeleted) > 0 {
				fmt.Fprintln(out, "Deleted Volumes:")
				for _, v := range rep.VolumesDeleted {
					fmt.Fprintln(out, v)
				}
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "Total reclaimed space: %s\n", humanSize(int64(rep.SpaceReclaimed)))
			return nil
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	f.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	f.StringArrayVar(&filterFlags, "filter", nil, "Provide filter values (e.g. \"label=<label>\")")
	return cmd
}
