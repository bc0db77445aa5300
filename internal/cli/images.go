package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/pkg/authconfig"
	mobyimage "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	registrytypes "github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
	"github.com/gantry-dev/gantry/internal/archive"
	"github.com/gantry-dev/gantry/internal/image"
	"github.com/gantry-dev/gantry/internal/registry"
)

// The image commands are clients of the daemon's Engine API, with the
// docker CLI's output. Their failures are one line, "gantry: " and what
// went wrong (the daemon's words without "Error response from daemon: ",
// which rmi alone prints, as docker's does). login stores the credentials
// it checked through the daemon; logout only edits the docker config; the
// pulls and pushes send the stored credentials in X-Registry-Auth.

func addImageCommands(root *cobra.Command) {
	imageCmd := &cobra.Command{Use: "image", Short: "Manage images"}
	imageCmd.AddCommand(
		newPullCommand(), newPushCommand(), newImagesCommand("ls"), newTagCommand(), newRmiCommand("rm"),
		newImageInspectCommand(), newHistoryCommand(), newImportCommand(), newBusyboxCommand(),
		newPruneCommand(), newSaveCommand(), newLoadCommand(),
	)
	root.AddCommand(imageCmd,
		newPullCommand(), newPushCommand(), newImagesCommand("images"), newTagCommand(), newRmiCommand("rmi"),
		newHistoryCommand(), newImportCommand(), newLoginCommand(), newLogoutCommand(),
		newSystemCommand(), newSaveCommand(), newLoadCommand(),
	)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// withImageAPI runs an image command's body with a client of the daemon.
func withImageAPI(run func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		api, err := newAPIClient(cmd.Context(), cmd)
		if err != nil {
			return imageError(cmd, err)
		}
		defer api.Close()
		return imageError(cmd, run(cmd.Context(), cmd, args, api))
	}
}

// imageError words a failure as the image commands always have: the
// daemon's message without docker's "Error response from daemon: ", or one
// line saying the daemon cannot be reached.
func imageError(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	var code *exitCode
	if errors.As(err, &code) {
		return err
	}
	if errors.Is(err, context.Canceled) && cmd.Context().Err() != nil {
		return &exitCode{130} // interrupted: the user knows
	}
	if line, ok := connError(err, hostOfCmd(cmd)); ok {
		return errors.New(line)
	}
	return errors.New(daemonMessage(err))
}

// daemonMessage is an API error's text without the client's prefix.
func daemonMessage(err error) string {
	return strings.TrimRight(strings.TrimPrefix(err.Error(), "Error response from daemon: "), "\n")
}

// registryAuth is the X-Registry-Auth value for an image's registry: the
// credentials `login` stored (config.json or its credential helper), ""
// when there are none.
func registryAuth(ref registry.Reference) (string, error) {
	creds, err := registry.NewClient(registry.Options{}).StoredCredentials(ref.Domain())
	if err != nil {
		return "", err
	}
	if creds == (registry.Credentials{}) {
		return "", nil
	}
	return authconfig.Encode(registrytypes.AuthConfig{
		Username: creds.Username, Password: creds.Password,
		IdentityToken: creds.IdentityToken, RegistryToken: creds.RegistryToken,
		ServerAddress: ref.Domain(),
	})
}

// showMessages renders a JSON message stream (pull, push): progress through
// show (nil: nothing is shown), text ("stream") to out. The stream's error
// message ends it as an error.
// renderProgress shows a pull's or push's progress stream: per-layer lines
// on the terminal, nothing but errors when quiet.
func renderProgress(ctx context.Context, resp *apiclient.MessageStream, out io.Writer, quiet bool) error {
	var show func(image.Progress)
	if !quiet {
		show = newProgressPrinter(out).update
	}
	return showMessages(resp.JSONMessages(ctx), show, out)
}

func showMessages(msgs iter.Seq2[jsonstream.Message, error], show func(image.Progress), out io.Writer) error {
	for msg, err := range msgs {
		if err != nil {
			return err
		}
		if msg.Error != nil {
			return errors.New(msg.Error.Message)
		}
		if show == nil || msg.Aux != nil || (msg.Status == "" && msg.Stream == "") {
			continue
		}
		if msg.Stream != "" {
			fmt.Fprint(out, msg.Stream)
			continue
		}
		ev := image.Progress{ID: msg.ID, Status: msg.Status}
		if msg.Progress != nil {
			ev.Current, ev.Total = msg.Progress.Current, msg.Progress.Total
		}
		show(ev)
	}
	return nil
}

// readMessages is showMessages for a response body the client hands over
// as it is (import, load).
func readMessages(body io.Reader) iter.Seq2[jsonstream.Message, error] {
	return func(yield func(jsonstream.Message, error) bool) {
		dec := json.NewDecoder(body)
		for {
			var m jsonstream.Message
			if err := dec.Decode(&m); err != nil {
				if !errors.Is(err, io.EOF) {
					yield(m, err)
				}
				return
			}
			if !yield(m, nil) {
				return
			}
		}
	}
}

func newPullCommand() *cobra.Command {
	var quiet bool
	var platformFlag string
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  cobra.ExactArgs(1),
		RunE: withImageAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			ref, err := registry.ParseReference(args[0])
			if err != nil {
				return err
			}
			opts := apiclient.ImagePullOptions{}
			if platformFlag != "" {
				p, err := parsePlatform(platformFlag)
				if err != nil {
					return err
				}
				opts.Platforms = []ocispec.Platform{p}
			}
			if opts.RegistryAuth, err = registryAuth(ref); err != nil {
				return err
			}
			resp, err := api.ImagePull(ctx, ref.String(), opts)
			if err == nil {
				err = renderProgress(ctx, resp, cmd.OutOrStdout(), quiet)
				resp.Close()
			}
			if err != nil {
				return pullInterrupted(cmd, ref, err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), ref.String())
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress verbose output")
	cmd.Flags().StringVar(&platformFlag, "platform", "", "set platform if server is multi-platform capable (os/arch[/variant])")
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

func newPushCommand() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  cobra.ExactArgs(1),
		RunE: withImageAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			ref, err := registry.ParseReference(args[0])
			if err != nil {
				return err
			}
			if ref.Digest() != "" {
				return errors.New("cannot push a digest reference")
			}
			auth, err := registryAuth(ref)
			if err != nil {
				return err
			}
			resp, err := api.ImagePush(ctx, ref.String(), apiclient.ImagePushOptions{RegistryAuth: auth})
			if err != nil {
				return err
			}
			defer resp.Close()
			out := cmd.OutOrStdout()
			if err := renderProgress(ctx, resp, out, quiet); err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(out, ref.Familiar())
			}
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

// filtersOf turns --filter key=value flags into the API's filters.
func filtersOf(terms []string) (apiclient.Filters, error) {
	f := apiclient.Filters{}
	for _, t := range terms {
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value): %s", t)
		}
		f.Add(strings.ToLower(strings.TrimSpace(k)), v)
	}
	return f, nil
}

func newImagesCommand(use string) *cobra.Command {
	var o imagesOptions
	cmd := &cobra.Command{
		Use:     use + " [OPTIONS] [REPOSITORY[:TAG]]",
		Short:   "List images",
		Aliases: []string{"list"},
		Args:    cobra.MaximumNArgs(1),
		RunE: withImageAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			terms := o.filters
			if len(args) == 1 {
				terms = append(terms, "reference="+args[0])
			}
			filters, err := filtersOf(terms)
			if err != nil {
				return err
			}
			res, err := api.ImageList(ctx, apiclient.ImageListOptions{All: o.all, Filters: filters})
			if err != nil {
				return err
			}
			return printImages(cmd.OutOrStdout(), res.Items, o)
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
			// The docker CLI's fields: SIZE with 3 digits, the others with
			// 4; N/A for what the daemon did not count.
			shared, unique, containers := "N/A", "N/A", "N/A"
			if img.SharedSize != -1 {
				shared = units.HumanSize(float64(img.SharedSize))
				if img.Size != -1 {
					unique = units.HumanSize(float64(img.Size - img.SharedSize))
				}
			}
			if img.Containers != -1 {
				containers = fmt.Sprint(img.Containers)
			}
			row := map[string]any{
				"Repository": e.repo, "Tag": e.tag, "Digest": e.digest, "ID": id(img.ID),
				"CreatedSince": since(created), "CreatedAt": created.Format("2006-01-02 15:04:05 -0700 MST"),
				"Size": humanSize(img.Size), "VirtualSize": units.HumanSize(float64(img.Size)), "SharedSize": shared, "UniqueSize": unique,
				"Containers": containers,
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

func newTagCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  cobra.ExactArgs(2),
		RunE: withImageAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			// gantry's words for a bad name, before the client's.
			target, err := registry.ParseReference(args[1])
			if err != nil {
				return err
			}
			if target.Digest() != "" {
				return fmt.Errorf("refusing to create a tag with a digest reference: %s", args[1])
			}
			// The source as the client checked it: a name or an ID.
			if !isImageID(args[0]) {
				if _, err := registry.ParseReference(args[0]); err != nil {
					return fmt.Errorf("error parsing reference: %q is not a valid repository/tag: %w", args[0], err)
				}
			}
			_, err = api.ImageTag(ctx, apiclient.ImageTagOptions{Source: args[0], Target: target.String()})
			return err
		}),
	}
}

func newRmiCommand(use string) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: withImageAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			failed := false
			for _, name := range args {
				res, err := api.ImageRemove(ctx, name, apiclient.ImageRemoveOptions{Force: force, PruneChildren: true})
				if err != nil {
					if _, ok := connError(err, hostOfCmd(cmd)); ok {
						return err
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "Error response from daemon: %s\n", daemonMessage(err))
					failed = true
					continue
				}
				for _, r := range res.Items {
					if r.Untagged != "" {
						fmt.Fprintf(cmd.OutOrStdout(), "Untagged: %s\n", r.Untagged)
					}
					if r.Deleted != "" {
						fmt.Fprintf(cmd.OutOrStdout(), "Deleted: %s\n", r.Deleted)
					}
				}
			}
			if failed {
				return &exitCode{1}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force removal of the image")
	return cmd
}

func newImageInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: withImageAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			var raws [][]byte
			failed := false
			for _, name := range args {
				var raw bytes.Buffer
				if _, err := api.ImageInspect(ctx, name, apiclient.ImageInspectWithRawResponse(&raw)); err != nil {
					if _, ok := connError(err, hostOfCmd(cmd)); ok {
						return err
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "Error: %s\n", strings.TrimPrefix(daemonMessage(err), "Error: "))
					failed = true
					continue
				}
				raws = append(raws, bytes.TrimSpace(raw.Bytes()))
			}
			if err := printInspect(cmd.OutOrStdout(), format, raws); err != nil {
				return err
			}
			if failed {
				return &exitCode{1}
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output using a custom template ('json' or a Go template)")
	return cmd
}

// printInspect prints the daemon's JSON objects as the docker CLI does:
// without a format one indented array of them as they came, else the
// format per object.
func printInspect(out io.Writer, format string, raws [][]byte) error {
	if format == "" {
		if len(raws) == 0 {
			_, err := fmt.Fprintln(out, "[]")
			return err
		}
		var indented bytes.Buffer
		if err := json.Indent(&indented, append(append([]byte("["), bytes.Join(raws, []byte(","))...), ']'), "", "    "); err != nil {
			return err
		}
		indented.WriteByte('\n')
		_, err := out.Write(indented.Bytes())
		return err
	}
	for _, raw := range raws {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		if err := printTemplate(out, format, v); err != nil {
			return err
		}
	}
	return nil
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

func newHistoryCommand() *cobra.Command {
	var noTrunc, quiet, human bool
	var format string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  cobra.ExactArgs(1),
		RunE: withImageAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			res, err := api.ImageHistory(ctx, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var rows []map[string]any
			var jsonRows []any
			for _, h := range res.Items {
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
				size, createdSince := humanSize(h.Size), since(created)
				if !human {
					size, createdSince = fmt.Sprint(h.Size), created.Format(time.RFC3339)
				}
				row := map[string]any{
					"ID": id, "CreatedSince": createdSince, "CreatedAt": created.Format(time.RFC3339),
					"CreatedBy": createdBy, "Size": size, "Comment": h.Comment,
				}
				rows = append(rows, row)
				jsonRows = append(jsonRows, row)
			}
			if quiet {
				return nil
			}
			def := "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
			if !human {
				def = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
			}
			if format == "table" {
				format = def
			}
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

// importImage sends a root filesystem tar to the daemon (POST
// /images/create?fromSrc=-) and returns the new image's ID.
func importImage(ctx context.Context, api *apiClient, in io.Reader, ref string, opts apiclient.ImageImportOptions) (string, error) {
	body, err := api.ImageImport(ctx, apiclient.ImageImportSource{Source: in, SourceName: "-"}, ref, opts)
	if err != nil {
		return "", err
	}
	defer body.Close()
	id := ""
	for msg, err := range readMessages(body) {
		if err != nil {
			return "", err
		}
		if msg.Error != nil {
			return "", errors.New(msg.Error.Message)
		}
		if msg.Status != "" {
			id = msg.Status
		}
	}
	if id == "" {
		return "", errors.New("import: the daemon did not say which image it made")
	}
	return id, nil
}

func newImportCommand() *cobra.Command {
	var changes []string
	var message, platformFlag string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|-  [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  cobra.RangeArgs(1, 2),
		RunE: withImageAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			ref := ""
			if len(args) == 2 {
				r, err := registry.ParseReference(args[1])
				if err != nil {
					return err
				}
				ref = r.Familiar()
			}
			opts := apiclient.ImageImportOptions{Changes: changes, Message: message}
			if platformFlag != "" {
				p, err := parsePlatform(platformFlag)
				if err != nil {
					return err
				}
				opts.Platform = p
			}
			var in io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				in = f
			}
			id, err := importImage(ctx, api, in, ref, opts)
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

// newBusyboxCommand makes busybox:latest offline: the root filesystem is
// built here from the host's static busybox and imported through the
// daemon.
func newBusyboxCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "busybox [NAME[:TAG]]",
		Short: "Make a busybox image from this host's static busybox (no download)",
		Args:  cobra.MaximumNArgs(1),
		RunE: withImageAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			name := "busybox:latest"
			if len(args) == 1 {
				name = args[0]
			}
			ref, err := registry.ParseReference(name)
			if err != nil {
				return err
			}
			bb, err := hostBusybox()
			if err != nil {
				return err
			}
			dir, err := os.MkdirTemp("", "gantry-busybox-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			if err := image.BusyboxTree(bb, dir); err != nil {
				return err
			}
			pr, pw := io.Pipe()
			go func() {
				pw.CloseWithError(archive.Tar(ctx, dir, pw, archive.TarOptions{ClampMtime: time.Unix(0, 0)}))
			}()
			defer pr.Close()
			id, err := importImage(ctx, api, pr, ref.Familiar(), apiclient.ImageImportOptions{
				Changes: []string{`CMD ["sh"]`, "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
				Message: "busybox from " + bb,
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		}),
	}
}

// hostBusybox finds the host's busybox (Debian's busybox-static).
func hostBusybox() (string, error) {
	if p, err := exec.LookPath("busybox"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/bin/busybox"); err == nil {
		return "/bin/busybox", nil
	}
	return "", errors.New("no busybox on this host: install Debian's busybox-static")
}

func newLoginCommand() *cobra.Command {
	var user, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry",
		Args:  cobra.MaximumNArgs(1),
		RunE: withImageAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
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
			// The daemon checks them (it knows which registries are
			// insecure); this side keeps them, as docker's CLI does.
			if _, err := api.RegistryLogin(ctx, apiclient.RegistryLoginOptions{Username: user, Password: password, ServerAddress: server}); err != nil {
				return err
			}
			if err := registry.NewClient(registry.Options{}).StoreLogin(server, user, password); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Login Succeeded")
			return nil
		}),
	}
	cmd.Flags().StringVarP(&user, "username", "u", "", "username")
	cmd.Flags().StringVarP(&password, "password", "p", "", "password")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "take the password from stdin")
	return cmd
}

func newLogoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := "docker.io"
			if len(args) == 1 {
				server = args[0]
			}
			if err := registry.NewClient(registry.Options{}).Logout(cmd.Context(), server); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", server)
			return nil
		},
	}
}

func newPruneCommand() *cobra.Command {
	var all, force bool
	var filterFlags []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  cobra.NoArgs,
		RunE: withImageAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			filters, err := filtersOf(filterFlags)
			if err != nil {
				return err
			}
			filters.Add("dangling", fmt.Sprint(!all))
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
			res, err := api.ImagePrune(ctx, apiclient.ImagePruneOptions{Filters: filters})
			if err != nil {
				return err
			}
			if deleted := res.Report.ImagesDeleted; len(deleted) > 0 {
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
			fmt.Fprintf(out, "Total reclaimed space: %s\n", humanSize(int64(res.Report.SpaceReclaimed)))
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filterFlags, "filter", nil, "provide filter values (e.g. 'until=24h', 'label=k=v')")
	return cmd
}

func newSaveCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  cobra.MinimumNArgs(1),
		RunE: withImageAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			var out io.Writer = cmd.OutOrStdout()
			if output == "" {
				if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return fmt.Errorf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
			}
			body, err := api.ImageSave(ctx, args)
			if err != nil {
				return err
			}
			defer body.Close()
			if output == "" {
				_, err := io.Copy(out, body)
				return err
			}
			// The archive appears whole or not at all.
			tmp := output + ".tmp"
			f, err := os.Create(tmp)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, body); err != nil {
				f.Close()
				os.Remove(tmp)
				return fmt.Errorf("save: %w", err)
			}
			if err := f.Close(); err != nil {
				os.Remove(tmp)
				return err
			}
			return os.Rename(tmp, output)
		}),
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file, instead of STDOUT")
	return cmd
}

func newLoadCommand() *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  cobra.NoArgs,
		RunE: withImageAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
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
			body, err := api.ImageLoad(ctx, in, apiclient.ImageLoadWithQuiet(true))
			if err != nil {
				return err
			}
			defer body.Close()
			out := cmd.OutOrStdout()
			if quiet {
				out = io.Discard
			}
			return showMessages(readMessages(body), func(image.Progress) {}, out)
		}),
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress the load output")
	return cmd
}
