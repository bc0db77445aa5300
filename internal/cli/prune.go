package cli

import (
	"context"
	"fmt"
	"strings"
	"text/template"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
	"github.com/spf13/cobra"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
)

// `container prune` and `system prune`, with docker's prompts and output.
// system prune is, as docker's, the CLI calling each area's prune in turn:
// containers, networks, volumes (--volumes), images, build cache. An area
// the daemon does not serve (yet) answers 404 "page not found" and is
// passed over.

// confirm asks msg + " [y/N] " and reads the answer.
func confirm(cmd *cobra.Command, msg string) bool {
	fmt.Fprint(cmd.OutOrStdout(), msg+" [y/N] ")
	var answer string
	fmt.Fscanln(cmd.InOrStdin(), &answer)
	a := strings.ToLower(strings.TrimSpace(answer))
	return a == "y" || a == "yes"
}

func newContainerPruneCommand() *cobra.Command {
	var force bool
	var filterFlags []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  noArgs,
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			filters, err := filtersOf(filterFlags)
			if err != nil {
				return err
			}
			if !force && !confirm(cmd, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?") {
				return nil
			}
			n, output, err := pruneContainers(ctx, api, filters)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if output != "" {
				fmt.Fprintln(out, output)
			}
			fmt.Fprintln(out, "Total reclaimed space:", units.HumanSize(float64(n)))
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filterFlags, "filter", nil, `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

func pruneContainers(ctx context.Context, api *apiClient, filters apiclient.Filters) (uint64, string, error) {
	rep, err := api.ContainersPrune(ctx, filters)
	if err != nil {
		return 0, "", err
	}
	return rep.SpaceReclaimed, listing("Deleted Containers:", rep.ContainersDeleted), nil
}

// listing is a prune's section: a title and one line per item, nothing
// when nothing was removed.
func listing(title string, items []string) string {
	if len(items) == 0 {
		return ""
	}
	return title + "\n" + strings.Join(items, "\n") + "\n"
}

const systemPruneWarning = `WARNING! This will remove:
{{- range .Warnings }}
  - {{ . }}
{{- end }}
{{if .Filters}}
  Items to be pruned will be filtered with:
{{- range .Filters }}
  - {{ . }}
{{- end }}
{{end}}
Are you sure you want to continue?`

type systemPruneOptions struct {
	all, force, volumes bool
	filters             []string
}

func newSystemPruneCommand() *cobra.Command {
	var o systemPruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  noArgs,
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			return runSystemPrune(ctx, cmd, api, o)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Remove all unused images not just dangling ones")
	f.BoolVarP(&o.force, "force", "f", false, "Do not prompt for confirmation")
	f.BoolVar(&o.volumes, "volumes", false, "Prune anonymous volumes")
	f.StringArrayVar(&o.filters, "filter", nil, `Provide filter values (e.g. "label=<key>=<value>")`)
	return cmd
}

func runSystemPrune(ctx context.Context, cmd *cobra.Command, api *apiClient, o systemPruneOptions) error {
	filters, err := filtersOf(o.filters)
	if err != nil {
		return err
	}
	warnings := []string{"all stopped containers", "all networks not used by at least one container"}
	if o.volumes {
		warnings = append(warnings, "all anonymous volumes not used by at least one container")
	}
	if o.all {
		warnings = append(warnings, "all images without at least one container associated to them", "all build cache")
	} else {
		warnings = append(warnings, "all dangling images", "unused build cache")
	}
	if !o.force {
		var msg strings.Builder
		t := template.Must(template.New("warning").Parse(systemPruneWarning))
		if err := t.Execute(&msg, map[string]any{"Warnings": warnings, "Filters": o.filters}); err != nil {
			return err
		}
		if !confirm(cmd, msg.String()) {
			return nil
		}
	}
	out := cmd.OutOrStdout()
	var total uint64
	show := func(n uint64, output string) {
		total += n
		if output != "" {
			fmt.Fprintln(out, output)
		}
	}
	n, output, err := pruneContainers(ctx, api, filters)
	if err != nil {
		return err
	}
	show(n, output)
	var nets network.PruneReport
	if ok, err := pruneArea(ctx, api, "networks", filters, &nets); err != nil {
		return err
	} else if ok {
		show(0, listing("Deleted Networks:", nets.NetworksDeleted))
	}
	if o.volumes {
		var vols volume.PruneReport
		if ok, err := pruneArea(ctx, api, "volumes", filters, &vols); err != nil {
			return err
		} else if ok {
			show(vols.SpaceReclaimed, listing("Deleted Volumes:", vols.VolumesDeleted))
		}
	}
	imgFilters := apiclient.Filters{}
	for k, v := range filters {
		imgFilters[k] = v
	}
	imgFilters = imgFilters.Add("dangling", fmt.Sprint(!o.all))
	res, err := api.ImagePrune(ctx, apiclient.ImagePruneOptions{Filters: imgFilters})
	if err != nil {
		return err
	}
	var lines []string
	for _, d := range res.Report.ImagesDeleted {
		if d.Untagged != "" {
			lines = append(lines, "untagged: "+d.Untagged)
		}
		if d.Deleted != "" {
			lines = append(lines, "deleted: "+d.Deleted)
		}
	}
	show(res.Report.SpaceReclaimed, listing("Deleted Images:", lines))
	cacheFilters := apiclient.Filters{}
	for k, v := range filters {
		cacheFilters[k] = v
	}
	var cache build.CachePruneReport
	if ok, err := pruneBuildCache(ctx, api, o.all, cacheFilters, &cache); err != nil {
		return err
	} else if ok {
		show(cache.SpaceReclaimed, listing("Deleted build cache objects:", cache.CachesDeleted))
	}
	fmt.Fprintln(out, "Total reclaimed space:", units.HumanSize(float64(total)))
	return nil
}

// pruneArea prunes one area; false when the daemon does not serve it.
func pruneArea(ctx context.Context, api *apiClient, area string, filters apiclient.Filters, out any) (bool, error) {
	err := api.Prune(ctx, area, filters, out)
	if notServed(err) {
		return false, nil
	}
	return err == nil, err
}

func pruneBuildCache(ctx context.Context, api *apiClient, all bool, filters apiclient.Filters, out *build.CachePruneReport) (bool, error) {
	err := api.BuildCachePrune(ctx, all, filters, out)
	if notServed(err) {
		return false, nil
	}
	return err == nil, err
}

// notServed is the daemon's answer to a route it does not have.
func notServed(err error) bool {
	return err != nil && apiclient.StatusCode(err) == 404 && strings.Contains(err.Error(), "page not found")
}
