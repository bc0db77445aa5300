package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
)

// `system df`: docker's summary (TYPE TOTAL ACTIVE SIZE RECLAIMABLE) with
// one row more, the containers' logs, which Docker leaves out; -v lists
// each image (shared and unique size), container (writable layer and
// logs), volume and build cache record.

func newSystemDfCommand() *cobra.Command {
	var verbose bool
	var format string
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show gantry disk usage",
		Args:  noArgs,
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			du, err := api.DiskUsage(ctx)
			if err != nil {
				return err
			}
			if verbose {
				return printDfVerbose(cmd.OutOrStdout(), du)
			}
			return printDf(cmd.OutOrStdout(), du, format)
		}),
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "Show detailed information on space usage")
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or 'TEMPLATE'")
	return cmd
}

func dfActive(c container.Summary) bool {
	return c.State == container.StateRunning || c.State == container.StatePaused || c.State == container.StateRestarting
}

// reclaimable is docker's "SIZE (PERCENT%)".
func reclaimable(n, total int64) string {
	if total <= 0 {
		return units.HumanSize(float64(n))
	}
	return fmt.Sprintf("%s (%v%%)", units.HumanSize(float64(n)), (n*100)/total)
}

func printDf(out io.Writer, du apiclient.DiskUsage, format string) error {
	type row struct {
		Type, TotalCount, Active, Size, Reclaimable string
	}
	var rows []row
	// Images: what the unused images alone hold can go (docker's sum).
	var activeImages int
	var used int64
	for _, img := range du.Images {
		if img.Containers > 0 {
			activeImages++
			used += img.Size - img.SharedSize
		}
	}
	rows = append(rows, row{"Images", fmt.Sprint(len(du.Images)), fmt.Sprint(activeImages),
		units.HumanSize(float64(du.LayersSize)), reclaimable(du.LayersSize-used, du.LayersSize)})
	var activeCtrs int
	var ctrSize, ctrFree, logs, logsFree int64
	for _, c := range du.Containers {
		ctrSize += c.SizeRw
		l := du.ContainerLogsSize[c.ID]
		logs += l
		if dfActive(c) {
			activeCtrs++
		} else {
			ctrFree += c.SizeRw
			logsFree += l
		}
	}
	rows = append(rows, row{"Containers", fmt.Sprint(len(du.Containers)), fmt.Sprint(activeCtrs),
		units.HumanSize(float64(ctrSize)), reclaimable(ctrFree, ctrSize)})
	var activeVols int
	var volSize, volFree int64
	for _, v := range du.Volumes {
		if v.UsageData == nil || v.UsageData.Size < 0 {
			continue
		}
		volSize += v.UsageData.Size
		if v.UsageData.RefCount > 0 {
			activeVols++
		} else {
			volFree += v.UsageData.Size
		}
	}
	rows = append(rows, row{"Local Volumes", fmt.Sprint(len(du.Volumes)), fmt.Sprint(activeVols),
		units.HumanSize(float64(volSize)), reclaimable(volFree, volSize)})
	var activeCache int
	var cacheSize, cacheInUse int64
	for _, b := range du.BuildCache {
		if b.InUse {
			activeCache++
		}
		if !b.Shared {
			cacheSize += b.Size
			if b.InUse {
				cacheInUse += b.Size
			}
		}
	}
	rows = append(rows, row{"Build Cache", fmt.Sprint(len(du.BuildCache)), fmt.Sprint(activeCache),
		units.HumanSize(float64(cacheSize)), units.HumanSize(float64(cacheSize - cacheInUse))})
	if du.ContainerLogsSize != nil {
		rows = append(rows, row{"Container Logs", fmt.Sprint(len(du.Containers)), fmt.Sprint(activeCtrs),
			units.HumanSize(float64(logs)), reclaimable(logsFree, logs)})
	}
	maps := make([]map[string]any, len(rows))
	jsonRows := make([]any, len(rows))
	for i, r := range rows {
		maps[i] = map[string]any{"Type": r.Type, "TotalCount": r.TotalCount, "Active": r.Active, "Size": r.Size, "Reclaimable": r.Reclaimable}
		jsonRows[i] = maps[i]
	}
	return table{
		out: out, format: format,
		defaults: "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
		headers:  map[string]string{"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"},
	}.print(maps, jsonRows)
}

func printDfVerbose(out io.Writer, du apiclient.DiskUsage) error {
	tw := tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
	fmt.Fprint(out, "Images space usage:\n\n")
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS")
	for _, img := range du.Images {
		repo, tag := "<none>", "<none>"
		if len(img.RepoTags) > 0 {
			if i := strings.LastIndex(img.RepoTags[0], ":"); i > 0 {
				repo, tag = img.RepoTags[0][:i], img.RepoTags[0][i+1:]
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", repo, tag, truncateID(img.ID), since(time.Unix(img.Created, 0)),
			humanSize(img.Size), humanSize(img.SharedSize), units.HumanSize(float64(img.Size-img.SharedSize)), img.Containers)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprint(out, "\nContainers space usage:\n\n")
	fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tLOGS SIZE\tCREATED\tSTATUS\tNAMES")
	for _, c := range du.Containers {
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		var vols int
		for _, m := range c.Mounts {
			if m.Type == "volume" {
				vols++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", truncateID(c.ID), c.Image, fmt.Sprintf("%q", ellipsis(c.Command, 20)), vols,
			humanSize(c.SizeRw), humanSize(du.ContainerLogsSize[c.ID]), since(time.Unix(c.Created, 0)), c.Status, name)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprint(out, "\nLocal Volumes space usage:\n\n")
	fmt.Fprintln(tw, "VOLUME NAME\tLINKS\tSIZE")
	for _, v := range du.Volumes {
		links, size := int64(-1), int64(-1)
		if v.UsageData != nil {
			links, size = v.UsageData.RefCount, v.UsageData.Size
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", v.Name, links, humanSize(size))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var cacheSize int64
	for _, b := range du.BuildCache {
		if !b.Shared {
			cacheSize += b.Size
		}
	}
	fmt.Fprintf(out, "\nBuild cache usage: %s\n\n", units.HumanSize(float64(cacheSize)))
	fmt.Fprintln(tw, "CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED")
	for _, b := range du.BuildCache {
		last := ""
		if b.LastUsedAt != nil {
			last = since(*b.LastUsedAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%v\n", b.ID, b.Type, humanSize(b.Size), since(b.CreatedAt), last, b.UsageCount, b.Shared)
	}
	return tw.Flush()
}
