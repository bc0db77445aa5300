package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	mobyimage "github.com/moby/moby/api/types/image"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gantry-dev/gantry/internal/image"
	"github.com/gantry-dev/gantry/internal/registry"
)

// Until the daemon exists, image commands open the data root themselves.

type imageGlobals struct {
	dataRoot  string
	insecure  []string
	downloads int
}

func (g *imageGlobals) open(ctx context.Context) (*image.Service, error) {
	return g.openHeld(ctx, false)
}

// openHeld opens the service; hold keeps the metadata store open (and
// locked) for the command's life, which only commands that take
// milliseconds may do: others would keep a concurrent pull waiting.
func (g *imageGlobals) openHeld(ctx context.Context, hold bool) (*image.Service, error) {
	return image.Open(ctx, g.dataRoot, image.Options{
		MaxConcurrentDownloads: g.downloads,
		Registry:               registry.Options{Insecure: g.insecure},
		HoldMetadata:           hold,
	})
}

func addImageCommands(root *cobra.Command) {
	g := &imageGlobals{}
	pf := root.PersistentFlags()
	pf.StringVar(&g.dataRoot, "data-root", envOr("GANTRY_DATA_ROOT", "/var/lib/gantry"), "root directory of persistent gantry state")
	pf.StringArrayVar(&g.insecure, "insecure-registry", nil, "registry to reach over plain HTTP (host:port or CIDR)")
	pf.IntVar(&g.downloads, "max-concurrent-downloads", 3, "layers downloaded in parallel per pull")

	imageCmd := &cobra.Command{Use: "image", Short: "Manage images"}
	imageCmd.AddCommand(
		newPullCommand(g), newPushCommand(g), newImagesCommand(g, "ls"), newTagCommand(g), newRmiCommand(g, "rm"),
		newImageInspectCommand(g), newHistoryCommand(g), newImportCommand(g), newBusyboxCommand(g),
		newPruneCommand(g), newSaveCommand(g), newLoadCommand(g),
	)
	root.AddCommand(imageCmd,
		newPullCommand(g), newPushCommand(g), newImagesCommand(g, "images"), newTagCommand(g), newRmiCommand(g, "rmi"),
		newHistoryCommand(g), newImportCommand(g), newLoginCommand(g), newLogoutCommand(g),
		newSystemCommand(g), newSaveCommand(g), newLoadCommand(g),
	)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func newPullCommand(g *imageGlobals) *cobra.Command {
	var quiet bool
	var platform string
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  cobra.ExactArgs(1),
		RunE: g.with(func(cmd *cobra.Command, args []string, svc *image.Service) error {
			opts := image.PullOptions{}
			if platform != "" {
				p, err := parsePlatform(platform)
				if err != nil {
					return err
				}
				opts.Platform = &p
			}
			out := cmd.OutOrStdout()
			if !quiet {
				opts.Progress = newProgressPrinter(out).update
			}
			res, err := svc.Pull(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			if !quiet {
				fmt.Fprintf(out, "Digest: %s\n", res.ManifestDigest)
				if res.UpToDate {
					fmt.Fprintf(out, "Status: Image is up to date for %s\n", res.Ref.Familiar())
				} else {
					fmt.Fprintf(out, "Status: Downloaded newer image for %s\n", res.Ref.Familiar())
				}
			}
			fmt.Fprintln(out, res.Ref.String())
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress verbose output")
	cmd.Flags().StringVar(&platform, "platform", "", "set platform if server is multi-platform capable (os/arch[/variant])")
	return cmd
}

type platform = ocispec.Platform

func parsePlatform(s string) (platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return platform{}, fmt.Errorf("invalid platform %q: use os/arch[/variant], e.g. linux/amd64", s)
	}
	p := platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func newPushCommand(g *imageGlobals) *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  cobra.ExactArgs(1),
		RunE: g.with(func(cmd *cobra.Command, args []string, svc *image.Service) error {
			out := cmd.OutOrStdout()
			opts := image.PushOptions{}
			if !quiet {
				opts.Progress = newProgressPrinter(out).update
			}
			res, err := svc.Push(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(out, res.Ref.Familiar())
				return nil
			}
			fmt.Fprintf(out, "%s: digest: %s size: %d\n", res.Ref.Tag(), res.Digest, res.Size)
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress verbose output")
	return cmd
}

type imagesOptions struct {
	all, quiet, digests, noTrunc bool
	filters                      []string
	format                       string
}

func newImagesCommand(g *imageGlobals, use string) *cobra.Command {
	var o imagesOptions
	cmd := &cobra.Command{
		Use:     use + " [OPTIONS] [REPOSITORY[:TAG]]",
		Short:   "List images",
		Aliases: []string{"list"},
		Args:    cobra.MaximumNArgs(1),
		RunE: g.quick(func(cmd *cobra.Command, args []string, svc *image.Service) error {
			if len(args) == 1 {
				o.filters = append(o.filters, "reference="+args[0])
			}
			list, err := svc.List(cmd.Context(), image.ListOptions{All: o.all, Filters: o.filters})
			if err != nil {
				return err
			}
			return printImages(cmd.OutOrStdout(), list, o)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "show all images (default hides intermediate images)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "only show image IDs")
	f.BoolVar(&o.digests, "digests", false, "show digests")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "don't truncate output")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "filter output based on conditions provided")
	f.StringVar(&o.format, "format", "", "format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template")
	return cmd
}

func printImages(out io.Writer, list []mobyimage.Summary, o imagesOptions) error {
	id := func(full string) string {
		if o.noTrunc {
			return full
		}
		return strings.TrimPrefix(full, "sha256:")[:12]
	}
	if o.quiet {
		seen := map[string]bool{}
		for _, img := range list {
			if !seen[img.ID] {
				seen[img.ID] = true
				fmt.Fprintln(out, id(img.ID))
			}
		}
		return nil
	}
	var rows []map[string]any
	var jsonRows []any
	for _, img := range list {
		created := time.Unix(img.Created, 0)
		type entry struct{ repo, tag, digest string }
		var entries []entry
		digestOf := func(repo string) string {
			for _, d := range img.RepoDigests {
				if name, dg, ok := strings.Cut(d, "@"); ok && name == repo {
					return dg
				}
			}
			return "<none>"
		}
		for _, t := range img.RepoTags {
			i := strings.LastIndex(t, ":")
			repo, tag := t[:i], t[i+1:]
			entries = append(entries, entry{repo, tag, digestOf(repo)})
		}
		if len(entries) == 0 {
			if len(img.RepoDigests) > 0 {
				name, dg, _ := strings.Cut(img.RepoDigests[0], "@")
				entries = append(entries, entry{name, "<none>", dg})
			} else {
				entries = append(entries, entry{"<none>", "<none>", "<none>"})
			}
		}
		for _, e := range entries {
			row := map[string]any{
				"Repository": e.repo, "Tag": e.tag, "Digest": e.digest, "ID": id(img.ID),
				"CreatedSince": since(created), "CreatedAt": created.Format("2006-01-02 15:04:05 -0700 MST"),
				"Size": humanSize(img.Size), "VirtualSize": humanSize(img.Size), "SharedSize": "N/A", "UniqueSize": "N/A",
				"Containers": "N/A",
			}
			rows = append(rows, row)
			jsonRows = append(jsonRows, row)
		}
	}
	def := "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	if o.digests {
		def = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	}
	format := o.format
	if format == "table" {
		format = def
	}
	return table{out: out, format: format, defaults: def, headers: map[string]string{
		"Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "ID": "IMAGE ID", "CreatedSince": "CREATED",
		"CreatedAt": "CREATED AT", "Size": "SIZE", "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE",
		"UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS",
	}}.print(rows, jsonRows)
}

func newTagCommand(g *imageGlobals) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  cobra.ExactArgs(2),
		RunE: g.quick(func(cmd *cobra.Command, args []string, svc *image.Service) error {
			return svc.Tag(cmd.Context(), args[0], args[1])
		}),
	}
}

func newRmiCommand(g *imageGlobals, use string) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: g.with(func(cmd *cobra.Command, args []string, svc *image.Service) error {
			var failed []string
			for _, name := range args {
				resp, err := svc.Remove(cmd.Context(), name, force, nil)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "Error response from daemon: %v\n", err)
					failed = append(failed, name)
					continue
				}
				for _, r := range resp {
					if r.Untagged != "" {
						fmt.Fprintf(cmd.OutOrStdout(), "Untagged: %s\n", r.Untagged)
					}
					if r.Deleted != "" {
						fmt.Fprintf(cmd.OutOrStdout(), "Deleted: %s\n", r.Deleted)
					}
				}
			}
			if len(failed) > 0 {
				return &exitCode{1}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force removal of the image")
	return cmd
}

func newImageInspectCommand(g *imageGlobals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: g.quick(func(cmd *cobra.Command, args []string, svc *image.Service) error {
			var all []any
			var firstErr error
			for _, name := range args {
				info, err := svc.Inspect(cmd.Context(), name)
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "Error: %v\n", err)
					continue
				}
				all = append(all, info)
			}
			out := cmd.OutOrStdout()
			if format != "" {
				for _, v := range all {
					if err := printTemplate(out, format, v); err != nil {
						return err
					}
				}
			} else {
				if all == nil {
					all = []any{}
				}
				data, err := json.MarshalIndent(all, "", "    ")
				if err != nil {
					return err
				}
				fmt.Fprintln(out, string(data))
			}
			if firstErr != nil {
				return &exitCode{1}
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output using a custom template ('json' or a Go template)")
	return cmd
}

// printTemplate renders one value through --format, reading it as JSON
// first so templates use the API's field names.
func printTemplate(out io.Writer, format string, v any) error {
	if format == "json" {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, string(data))
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var generic any
	if err := json.Unmarshal(data, &generic); err != nil {
		return err
	}
	t := table{out: out, format: format}
	return t.print([]map[string]any{asMap(generic)}, nil)
}

func asMap(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	return map[string]any{}
}

func newHistoryCommand(g *imageGlobals) *cobra.Command {
	var noTrunc, quiet, human bool
	var format string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  cobra.ExactArgs(1),
		RunE: g.quick(func(cmd *cobra.Command, args []string, svc *image.Service) error {
			items, err := svc.History(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var rows []map[string]any
			var jsonRows []any
			for _, h := range items {
				id := h.ID
				if !noTrunc && id != "<missing>" {
					id = strings.TrimPrefix(id, "sha256:")[:12]
				}
				if quiet {
					fmt.Fprintln(out, id)
					continue
				}
				createdBy := strings.ReplaceAll(h.CreatedBy, "\t", " ")
				if !noTrunc && len(createdBy) > 45 {
					createdBy = createdBy[:44] + "…"
				}
				created := time.Unix(h.Created, 0)
				size := humanSize(h.Size)
				if !human {
					size = fmt.Sprint(h.Size)
				}
				row := map[string]any{
					"ID": id, "CreatedSince": since(created), "CreatedAt": created.Format(time.RFC3339),
					"CreatedBy": createdBy, "Size": size, "Comment": h.Comment,
				}
				rows = append(rows, row)
				jsonRows = append(jsonRows, row)
			}
			if quiet {
				return nil
			}
			def := "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
			return table{out: out, format: format, defaults: def, headers: map[string]string{
				"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
				"Size": "SIZE", "Comment": "COMMENT",
			}}.print(rows, jsonRows)
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	f.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	f.BoolVarP(&human, "human", "H", true, "print sizes and dates in human readable format")
	f.StringVar(&format, "format", "", "format output using a custom template")
	return cmd
}

func newImportCommand(g *imageGlobals) *cobra.Command {
	var changes []string
	var message, platformFlag string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|-  [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  cobra.RangeArgs(1, 2),
		RunE: g.with(func(cmd *cobra.Command, args []string, svc *image.Service) error {
			var in io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				in = f
			}
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			opts := image.ImportOptions{Changes: changes, Message: message}
			if platformFlag != "" {
				p, err := parsePlatform(platformFlag)
				if err != nil {
					return err
				}
				opts.Platform = &p
			}
			id, err := svc.Import(cmd.Context(), in, ref, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		}),
	}
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "apply Dockerfile instruction to the created image")
	cmd.Flags().StringVarP(&message, "message", "m", "", "set commit message for imported image")
	cmd.Flags().StringVar(&platformFlag, "platform", "", "set platform (os/arch)")
	return cmd
}

func newBusyboxCommand(g *imageGlobals) *cobra.Command {
	return &cobra.Command{
		Use:   "busybox [NAME[:TAG]]",
		Short: "Make a busybox image from this host's static busybox (no download)",
		Args:  cobra.MaximumNArgs(1),
		RunE: g.with(func(cmd *cobra.Command, args []string, svc *image.Service) error {
			name := "busybox:latest"
			if len(args) == 1 {
				name = args[0]
			}
			id, err := svc.Busybox(cmd.Context(), name)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		}),
	}
}

func newLoginCommand(g *imageGlobals) *cobra.Command {
	var user, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := "docker.io"
			if len(args) == 1 {
				server = args[0]
			}
			if passwordStdin {
				data, err := io.ReadAll(cmd.InOrStdin())
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(data), "\r\n")
			}
			if user == "" || password == "" {
				return fmt.Errorf("login needs --username and --password (or --password-stdin)")
			}
			client := registry.NewClient(registry.Options{Insecure: g.insecure})
			if err := client.Login(cmd.Context(), server, user, password); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Login Succeeded")
			return nil
		},
	}
	cmd.Flags().StringVarP(&user, "username", "u", "", "username")
	cmd.Flags().StringVarP(&password, "password", "p", "", "password")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "take the password from stdin")
	return cmd
}

func newLogoutCommand(g *imageGlobals) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := "docker.io"
			if len(args) == 1 {
				server = args[0]
			}
			client := registry.NewClient(registry.Options{Insecure: g.insecure})
			if err := client.Logout(cmd.Context(), server); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", server)
			return nil
		},
	}
}

func newPruneCommand(g *imageGlobals) *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := image.PruneOptions{All: all}
			for _, f := range filters {
				k, v, _ := strings.Cut(f, "=")
				if k != "until" {
					return fmt.Errorf("invalid filter %q: image prune takes until=", f)
				}
				t, err := parseUntil(v)
				if err != nil {
					return err
				}
				opts.Until = t
			}
			out := cmd.OutOrStdout()
			if !force {
				msg := "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
				if all {
					msg = "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] "
				}
				fmt.Fprint(out, msg)
				var answer string
				fmt.Fscanln(cmd.InOrStdin(), &answer)
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					return nil
				}
			}
			svc, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer svc.Close()
			deleted, reclaimed, err := svc.Prune(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if len(deleted) > 0 {
				fmt.Fprintln(out, "Deleted Images:")
				for _, d := range deleted {
					if d.Untagged != "" {
						fmt.Fprintf(out, "untagged: %s\n", d.Untagged)
					}
					if d.Deleted != "" {
						fmt.Fprintf(out, "deleted: %s\n", d.Deleted)
					}
				}
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "Total reclaimed space: %s\n", humanSize(reclaimed))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "provide filter values (e.g. 'until=24h')")
	return cmd
}

// parseUntil reads a duration ("24h") or a timestamp (RFC 3339, or Unix).
func parseUntil(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	var sec int64
	if _, err := fmt.Sscanf(v, "%d", &sec); err == nil {
		return time.Unix(sec, 0), nil
	}
	return time.Time{}, fmt.Errorf("invalid until %q: give a duration (24h) or a timestamp", v)
}

func newSaveCommand(g *imageGlobals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out io.Writer = cmd.OutOrStdout()
			if output == "" {
				if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return fmt.Errorf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
			}
			svc, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer svc.Close()
			if output == "" {
				return svc.Save(cmd.Context(), args, out)
			}
			tmp := output + ".tmp"
			f, err := os.Create(tmp)
			if err != nil {
				return err
			}
			if err := svc.Save(cmd.Context(), args, f); err != nil {
				f.Close()
				os.Remove(tmp)
				return err
			}
			if err := f.Close(); err != nil {
				os.Remove(tmp)
				return err
			}
			return os.Rename(tmp, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file, instead of STDOUT")
	return cmd
}

func newLoadCommand(g *imageGlobals) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var in io.Reader = cmd.InOrStdin()
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			} else if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return fmt.Errorf("requested load from stdin, but stdin is empty")
			}
			svc, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer svc.Close()
			loaded, err := svc.Load(cmd.Context(), in)
			if quiet {
				return err
			}
			for _, l := range loaded {
				if len(l.Tags) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "Loaded image ID: %s\n", l.ID)
				}
				for _, t := range l.Tags {
					fmt.Fprintf(cmd.OutOrStdout(), "Loaded image: %s\n", t)
				}
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress the load output")
	return cmd
}

// with opens the image service around a command that may take long.
func (g *imageGlobals) with(run func(cmd *cobra.Command, args []string, svc *image.Service) error) func(*cobra.Command, []string) error {
	return g.withService(false, run)
}

// quick opens the image service around a command that only reads or
// changes metadata.
func (g *imageGlobals) quick(run func(cmd *cobra.Command, args []string, svc *image.Service) error) func(*cobra.Command, []string) error {
	return g.withService(true, run)
}

func (g *imageGlobals) withService(hold bool, run func(cmd *cobra.Command, args []string, svc *image.Service) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		svc, err := g.openHeld(cmd.Context(), hold)
		if err != nil {
			return err
		}
		defer svc.Close()
		return run(cmd, args, svc)
	}
}
