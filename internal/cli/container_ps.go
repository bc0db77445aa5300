package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
	"github.com/gantry-dev/gantry/internal/flagvalue"
	"github.com/gantry-dev/gantry/internal/registry"
)

type psOptions struct {
	quiet, size, all, noTrunc, latest bool
	last                              int
	format                            string
	filter                            flagvalue.FilterOpt
}

func newPsCommand(use string, aliases ...string) *cobra.Command {
	o := psOptions{filter: flagvalue.NewFilterOpt()}
	cmd := &cobra.Command{
		Use:     use + " [OPTIONS]",
		Aliases: aliases,
		Short:   "List containers",
		Args:    noArgs,
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			return runPs(ctx, cmd, api, &o)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display container IDs")
	f.BoolVarP(&o.size, "size", "s", false, "Display total file sizes")
	f.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVarP(&o.latest, "latest", "l", false, "Show the latest created container (includes all states)")
	f.IntVarP(&o.last, "last", "n", -1, "Show n last created containers (includes all states)")
	f.StringVar(&o.format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	f.VarP(&o.filter, "filter", "f", "Filter output based on conditions provided")
	return cmd
}

// listOptions is the list request the flags ask for; a --format that
// shows .Size asks for sizes.
func (o *psOptions) listOptions(sizeChanged bool) (apiclient.ContainerListOptions, error) {
	lo := apiclient.ContainerListOptions{All: o.all, Limit: o.last, Size: o.size, Filters: apiclient.Filters(o.filter.Value())}
	if o.latest && o.last == -1 {
		lo.Limit = 1
	}
	if o.format != "" {
		tmpl, err := parseTemplate(psFormat(o.format, o.quiet, false).body())
		if err != nil {
			return lo, fmt.Errorf("failed to parse template: %w", err)
		}
		probe := &psRow{}
		if err := tmpl.Execute(io.Discard, probe); err != nil {
			return lo, fmt.Errorf("failed to execute template: %w", err)
		}
		if !o.quiet && !lo.Size && !sizeChanged && probe.sizeUsed {
			lo.Size = true
		}
	}
	return lo, nil
}

func runPs(ctx context.Context, cmd *cobra.Command, api *apiClient, o *psOptions) error {
	if o.format != "" && o.quiet {
		fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: Ignoring custom format, because both --format and --quiet are set.")
	}
	lo, err := o.listOptions(cmd.Flags().Changed("size"))
	if err != nil {
		return err
	}
	res, err := api.ContainerList(ctx, lo)
	if err != nil {
		return err
	}
	return writeContainers(cmd.OutOrStdout(), res.Items, psFormat(o.format, o.quiet, lo.Size), !o.noTrunc, time.Now())
}

// outputFormat is a --format value: "table ...", "json", "raw" or a
// template.
type outputFormat string

func (f outputFormat) isTable() bool { return strings.HasPrefix(string(f), "table") }

// body is the template to run per row.
func (f outputFormat) body() string {
	s := string(f)
	switch s {
	case "table":
		return ""
	case "json":
		return "{{json .}}"
	}
	s = strings.TrimPrefix(s, "table")
	s = strings.Trim(s, " ")
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(s)
}

const psDefaultTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

// psFormat resolves the format ps uses, as the docker CLI does.
func psFormat(source string, quiet, size bool) outputFormat {
	switch source {
	case "table", "":
		if quiet {
			return "{{.ID}}"
		}
		f := psDefaultTable
		if size {
			f += `\t{{.Size}}`
		}
		return outputFormat(f)
	case "raw":
		if quiet {
			return `container_id: {{.ID}}`
		}
		f := "container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\n" +
			"state: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\n" +
			"labels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n"
		if size {
			f += `size: {{.Size}}\n`
		}
		return outputFormat(f)
	}
	if quiet {
		return "{{.ID}}"
	}
	return outputFormat(source)
}

// writeContainers prints the list in format; now is the time CREATED is
// counted from.
func writeContainers(out io.Writer, list []container.Summary, format outputFormat, trunc bool, now time.Time) error {
	tmpl, err := parseTemplate(format.body())
	if err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	var buf bytes.Buffer
	for _, c := range list {
		if err := tmpl.Execute(&buf, &psRow{c: c, trunc: trunc, now: now}); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
		buf.WriteByte('\n')
	}
	if !format.isTable() {
		_, err := buf.WriteTo(out)
		return err
	}
	tw := tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
	_ = tmpl.Funcs(headerFuncs()).Execute(tw, psHeaders())
	tw.Write([]byte{'\n'})
	buf.WriteTo(tw)
	return tw.Flush()
}

// headerRow is a table's header: each field's name, and Label's.
type headerRow map[string]string

// Label is the header of a {{.Label "name"}} column: the last part of the
// name, with dashes and underscores as spaces.
func (headerRow) Label(name string) string {
	parts := strings.Split(name, ".")
	return strings.NewReplacer("-", " ", "_", " ").Replace(parts[len(parts)-1])
}

// psHeaders are ps's column headers (a function: nothing is built at
// package init, which every container start would pay).
func psHeaders() headerRow {
	return headerRow{
		"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
		"RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
		"Labels": "LABELS", "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS",
		"Platform": "PLATFORM", "HealthStatus": "HEALTH STATUS",
	}
}

// psRow is one container as ps templates see it: the docker CLI's field
// names and values.
type psRow struct {
	c        container.Summary
	trunc    bool
	now      time.Time
	sizeUsed bool
}

// truncateID is the 12-character short form of an ID.
func truncateID(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// ellipsis shortens s to n characters, the last one "…".
func ellipsis(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	if n == 1 {
		return string(r[0])
	}
	return string(r[:n-1]) + "…"
}

func (r *psRow) ID() string {
	if r.trunc {
		return truncateID(r.c.ID)
	}
	return r.c.ID
}

// Names is the container's name (without links' names when truncated).
func (r *psRow) Names() string {
	var names []string
	for _, n := range r.c.Names {
		n = strings.TrimPrefix(n, "/")
		if r.trunc {
			if !strings.Contains(n, "/") {
				return n
			}
			continue
		}
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

// Image is the image as given at create, in its short form.
func (r *psRow) Image() string {
	img := r.c.Image
	if img == "" {
		return "<no image>"
	}
	if !r.trunc {
		return img
	}
	if short := truncateID(r.c.ImageID); short == truncateID(img) {
		return short
	}
	ref, err := registry.ParseNamed(img)
	if err != nil {
		return img
	}
	if ref.Digest() != "" {
		tag := ref.Tag()
		ref = ref.NameOnly()
		if tag != "" {
			if t, err := ref.WithTag(tag); err == nil {
				ref = t
			}
		}
	}
	return ref.Familiar()
}

func (r *psRow) Command() string {
	cmd := r.c.Command
	if r.trunc {
		cmd = ellipsis(cmd, 20)
	}
	return strconv.Quote(cmd)
}

func (r *psRow) CreatedAt() string { return time.Unix(r.c.Created, 0).String() }

func (r *psRow) RunningFor() string {
	now := r.now
	if now.IsZero() {
		now = time.Now()
	}
	return units.HumanDuration(now.UTC().Sub(time.Unix(r.c.Created, 0))) + " ago"
}

func (r *psRow) Ports() string { return displayPorts(r.c.Ports) }

func (r *psRow) State() string { return string(r.c.State) }

func (r *psRow) Status() string { return r.c.Status }

func (r *psRow) Size() string {
	r.sizeUsed = true
	rw := units.HumanSizeWithPrecision(float64(r.c.SizeRw), 3)
	if r.c.SizeRootFs > 0 {
		return fmt.Sprintf("%s (virtual %s)", rw, units.HumanSizeWithPrecision(float64(r.c.SizeRootFs), 3))
	}
	return rw
}

func (r *psRow) Labels() string {
	if r.c.Labels == nil {
		return ""
	}
	list := make([]string, 0, len(r.c.Labels))
	for k, v := range r.c.Labels {
		list = append(list, k+"="+v)
	}
	sort.Strings(list)
	return strings.Join(list, ",")
}

func (r *psRow) Label(name string) string { return r.c.Labels[name] }

func (r *psRow) Mounts() string {
	names := make([]string, 0, len(r.c.Mounts))
	for _, m := range r.c.Mounts {
		name := m.Name
		if name == "" {
			name = m.Source
		}
		if r.trunc {
			name = ellipsis(name, 15)
		}
		names = append(names, name)
	}
	return strings.Join(names, ",")
}

func (r *psRow) LocalVolumes() string {
	n := 0
	for _, m := range r.c.Mounts {
		if m.Driver == "local" {
			n++
		}
	}
	return strconv.Itoa(n)
}

func (r *psRow) Networks() string {
	if r.c.NetworkSettings == nil {
		return ""
	}
	names := make([]string, 0, len(r.c.NetworkSettings.Networks))
	for k := range r.c.NetworkSettings.Networks {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// Platform is the image's platform when the daemon knows it.
func (r *psRow) Platform() any {
	d := r.c.ImageManifestDescriptor
	if d == nil || d.Platform == nil {
		return nil
	}
	return d.Platform
}

func (r *psRow) HealthStatus() string {
	if r.c.Health != nil && r.c.Health.Status != "" {
		return string(r.c.Health.Status)
	}
	_, h, ok := strings.Cut(r.c.Status, "(")
	if !ok || !strings.HasSuffix(h, ")") {
		return ""
	}
	h = strings.TrimPrefix(strings.TrimSuffix(h, ")"), "health: ")
	switch h {
	case "healthy", "unhealthy", "starting":
		return h
	}
	return ""
}

// MarshalJSON is {{json .}}: every field, as strings.
func (r *psRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"Command": r.Command(), "CreatedAt": r.CreatedAt(), "HealthStatus": r.HealthStatus(), "ID": r.ID(),
		"Image": r.Image(), "Labels": r.Labels(), "LocalVolumes": r.LocalVolumes(), "Mounts": r.Mounts(),
		"Names": r.Names(), "Networks": r.Networks(), "Platform": r.Platform(), "Ports": r.Ports(),
		"RunningFor": r.RunningFor(), "Size": r.Size(), "State": r.State(), "Status": r.Status(),
	})
}

// displayPorts prints published ports as Docker does: consecutive ports
// grouped into ranges ("0.0.0.0:8000-8001->8000-8001/tcp"), unpublished
// ones as "80/tcp", remapped ones one by one.
func displayPorts(ports []container.PortSummary) string {
	type group struct{ first, last uint16 }
	sorted := append([]container.PortSummary(nil), ports...)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.PrivatePort != b.PrivatePort {
			return a.PrivatePort < b.PrivatePort
		}
		if a.IP != b.IP {
			return a.IP.String() < b.IP.String()
		}
		if a.PublicPort != b.PublicPort {
			return a.PublicPort < b.PublicPort
		}
		return a.Type < b.Type
	})
	groups := map[string]*group{}
	var keys, result, remapped []string
	for _, p := range sorted {
		key := p.Type
		if p.IP.IsValid() {
			if p.PublicPort != p.PrivatePort {
				host := net.JoinHostPort(p.IP.String(), strconv.Itoa(int(p.PublicPort)))
				remapped = append(remapped, fmt.Sprintf("%s->%d/%s", host, p.PrivatePort, p.Type))
				continue
			}
			key = p.IP.String() + "/" + p.Type
		}
		g := groups[key]
		if g == nil {
			groups[key] = &group{p.PrivatePort, p.PrivatePort}
			keys = append(keys, key)
			continue
		}
		if p.PrivatePort == g.last+1 {
			g.last = p.PrivatePort
			continue
		}
		result = append(result, portGroup(key, g.first, g.last))
		groups[key] = &group{p.PrivatePort, p.PrivatePort}
	}
	for _, k := range keys {
		result = append(result, portGroup(k, groups[k].first, groups[k].last))
	}
	return strings.Join(append(result, remapped...), ", ")
}

func portGroup(key string, first, last uint16) string {
	ip, proto, hasIP := strings.Cut(key, "/")
	if !hasIP {
		proto, ip = key, ""
	}
	span := strconv.Itoa(int(first))
	if first != last {
		span = fmt.Sprintf("%s-%d", span, last)
	}
	if ip != "" {
		span = fmt.Sprintf("%s->%s", net.JoinHostPort(ip, span), span)
	}
	return span + "/" + proto
}

// parseTemplate parses a --format template with the docker CLI's
// functions.
func parseTemplate(s string) (*template.Template, error) {
	return template.New("").Funcs(dockerTemplateFuncs()).Parse(s)
}

// dockerTemplateFuncs are the docker CLI's template functions.
func dockerTemplateFuncs() template.FuncMap {
	return template.FuncMap{
		"json": func(v any) string {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(v); err != nil {
				panic(err)
			}
			return strings.TrimSpace(b.String())
		},
		"split": strings.Split,
		"join":  joinAny,
		"title": func(s string) string {
			b := []byte(s)
			for i := range b {
				if (i == 0 || b[i-1] == ' ') && b[i] >= 'a' && b[i] <= 'z' {
					b[i] -= 'a' - 'A'
				}
			}
			return string(b)
		},
		"lower": strings.ToLower,
		"upper": strings.ToUpper,
		"pad": func(s string, prefix, suffix int) string {
			if s == "" {
				return s
			}
			return strings.Repeat(" ", prefix) + s + strings.Repeat(" ", suffix)
		},
		"truncate": func(s string, n int) string {
			if len(s) < n {
				return s
			}
			return s[:n]
		},
	}
}

// headerFuncs leave header names as they are.
func headerFuncs() template.FuncMap {
	return template.FuncMap{
		"json":     func(v string) string { return v },
		"split":    func(v, _ string) string { return v },
		"join":     func(v, _ string) string { return v },
		"title":    func(v string) string { return v },
		"lower":    func(v string) string { return v },
		"upper":    func(v string) string { return v },
		"truncate": func(v string, _ int) string { return v },
	}
}

func joinAny(v any, sep string) (string, error) {
	switch l := v.(type) {
	case nil:
		return "", nil
	case []string:
		return strings.Join(l, sep), nil
	case []any:
		parts := make([]string, len(l))
		for i, e := range l {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, sep), nil
	case map[string]string:
		parts := make([]string, 0, len(l))
		for _, e := range l {
			parts = append(parts, e)
		}
		sort.Strings(parts)
		return strings.Join(parts, sep), nil
	case map[string]any:
		parts := make([]string, 0, len(l))
		for _, e := range l {
			parts = append(parts, fmt.Sprint(e))
		}
		sort.Strings(parts)
		return strings.Join(parts, sep), nil
	}
	return "", fmt.Errorf("expected slice, got %T", v)
}
