package cli

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	buildtypes "github.com/moby/moby/api/types/build"
	"github.com/spf13/cobra"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
	"github.com/gantry-dev/gantry/internal/archive"
)

type buildOptions struct {
	tags, buildArgs, labels []string
	file, target, iidfile   string
	progress, network       string
	platform                string
	noCache, pull, quiet    bool
	secrets, noCacheFilter  []string
	output                  string
}

// addBuildCommands adds build, builder and commit (also as `image build`
// and `container commit`).
func addBuildCommands(root *cobra.Command) {
	root.AddCommand(newBuildCommand(), newBuilderCommand(), newCommitCommand())
	for _, c := range root.Commands() {
		switch c.Name() {
		case "image":
			c.AddCommand(newBuildCommand())
		case "container":
			c.AddCommand(newCommitCommand())
		}
	}
}

func newBuildCommand() *cobra.Command {
	var o buildOptions
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | -",
		Short: "Build an image from a Dockerfile",
		Args:  cobra.ExactArgs(1),
		RunE: withImageAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			return runBuild(ctx, cmd, api, args[0], o)
		}),
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.tags, "tag", "t", nil, `Name and optionally a tag in the "name:tag" format`)
	f.StringVarP(&o.file, "file", "f", "", `Name of the Dockerfile (default: "PATH/Dockerfile")`)
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "Set build-time variables")
	f.StringArrayVar(&o.labels, "label", nil, "Set metadata for an image")
	f.StringVar(&o.target, "target", "", "Set the target build stage to build")
	f.BoolVar(&o.noCache, "no-cache", false, "Do not use cache when building the image")
	f.BoolVar(&o.pull, "pull", false, "Always attempt to pull a newer version of the image")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	f.StringVar(&o.iidfile, "iidfile", "", "Write the image ID to the file")
	f.StringVar(&o.progress, "progress", "auto", `Set type of progress output ("auto", "plain", "tty", "quiet")`)
	f.StringVar(&o.network, "network", "default", "Set the networking mode for the RUN instructions during build")
	f.StringVar(&o.platform, "platform", "", "Set platform if server is multi-platform capable")
	f.StringArrayVar(&o.secrets, "secret", nil, `Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")`)
	f.StringArrayVar(&o.noCacheFilter, "no-cache-filter", nil, "Do not cache specified stages")
	f.StringVarP(&o.output, "output", "o", "", `Output destination (format: "type=local,dest=path")`)
	return cmd
}

func newBuilderCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "builder", Short: "Manage builds"}
	var all, force bool
	prune := &cobra.Command{
		Use:   "prune",
		Short: "Remove build cache",
		Args:  cobra.NoArgs,
		RunE: withImageAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			warning := "WARNING! This will remove all dangling build cache."
			if all {
				warning = "WARNING! This will remove all build cache."
			}
			if !force && !confirm(cmd, warning) {
				return nil
			}
			var rep buildtypes.CachePruneReport
			if err := api.BuildCachePrune(ctx, all, apiclient.Filters{}, &rep); err != nil {
				return err
			}
			if len(rep.CachesDeleted) > 0 {
				fmt.Fprint(cmd.OutOrStdout(), listing("Deleted build cache objects:", rep.CachesDeleted))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Total reclaimed space: %s\n", humanSize(int64(rep.SpaceReclaimed)))
			return nil
		}),
	}
	prune.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused build cache, not just dangling ones")
	prune.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.AddCommand(prune)
	return cmd
}

func runBuild(ctx context.Context, cmd *cobra.Command, api *apiClient, ctxArg string, o buildOptions) error {
	switch o.progress {
	case "auto", "plain", "tty", "":
	case "quiet":
		o.quiet = true
	default:
		return fmt.Errorf("invalid progress mode %q: use auto, plain, tty or quiet", o.progress)
	}
	query := url.Values{}
	for _, t := range o.tags {
		query.Add("t", t)
	}
	if o.target != "" {
		query.Set("target", o.target)
	}
	if o.noCache {
		query.Set("nocache", "1")
	}
	if o.pull {
		query.Set("pull", "1")
	}
	if o.quiet {
		query.Set("q", "1")
	}
	if o.network != "" && o.network != "default" {
		query.Set("networkmode", o.network)
	}
	if o.platform != "" {
		query.Set("platform", o.platform)
	}
	query.Set("rm", "1")
	// As docker's: SOURCE_DATE_EPOCH from the environment is a build arg.
	if v, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok && !hasBuildArg(o.buildArgs, "SOURCE_DATE_EPOCH") {
		o.buildArgs = append(o.buildArgs, "SOURCE_DATE_EPOCH="+v)
	}
	if len(o.buildArgs) > 0 {
		args := map[string]*string{}
		for _, a := range o.buildArgs {
			k, v, ok := strings.Cut(a, "=")
			if !ok {
				// As docker: the value comes from the environment, or none.
				if ev, set := os.LookupEnv(k); set {
					args[k] = &ev
				} else {
					args[k] = nil
				}
				continue
			}
			args[k] = &v
		}
		raw, _ := json.Marshal(args)
		query.Set("buildargs", string(raw))
	}
	if len(o.labels) > 0 {
		labels := map[string]string{}
		for _, l := range o.labels {
			k, v, _ := strings.Cut(l, "=")
			labels[k] = v
		}
		raw, _ := json.Marshal(labels)
		query.Set("labels", string(raw))
	}
	hdr, output, err := buildExtras(ctx, api, &o, query)
	if err != nil {
		return err
	}
	var body io.ReadCloser
	var dockerfile string
	if dir, ok := localContext(ctx, api, ctxArg); ok {
		body, dockerfile, err = localContextBody(cmd, dir, o.file)
		query.Set("gantry.contextdir", dir)
	} else {
		body, dockerfile, err = buildContextTar(ctx, cmd, ctxArg, o.file)
	}
	if err != nil {
		return err
	}
	defer body.Close()
	if dockerfile != "" {
		query.Set("dockerfile", dockerfile)
	}
	stream, err := api.ImageBuildWithHeader(ctx, body, query, hdr)
	if err != nil {
		return err
	}
	defer stream.Close()
	out := cmd.OutOrStdout()
	if output != nil && output.dest == "-" {
		// The tar goes to stdout: the progress to stderr, as buildx's.
		out = cmd.ErrOrStderr()
	}
	var id string
	var quietOut strings.Builder
	mode := o.progress
	if o.quiet {
		mode = "plain" // nothing to draw
	}
	prog := newBuildProgress(mode, out)
	for m, err := range stream.JSONMessages(ctx) {
		if err != nil {
			prog.Close(true)
			return err
		}
		if m.Error != nil {
			prog.Close(true)
			if o.quiet && quietOut.Len() > 0 {
				fmt.Fprint(cmd.ErrOrStderr(), quietOut.String())
			}
			fmt.Fprintln(cmd.ErrOrStderr(), m.Error.Message)
			code := m.Error.Code
			if code == 0 {
				code = 1
			}
			return &exitCode{code}
		}
		if m.Aux != nil {
			var res buildtypes.Result
			if json.Unmarshal(*m.Aux, &res) == nil && res.ID != "" {
				id = res.ID
			}
			continue
		}
		if m.Stream != "" {
			if o.quiet {
				quietOut.WriteString(m.Stream)
				continue
			}
			prog.Write(m.Stream)
		}
	}
	prog.Close(id == "")
	if id == "" {
		return errors.New("the build ended without an image ID")
	}
	if output != nil {
		if err := output.export(ctx, api, id, cmd.OutOrStdout()); err != nil {
			return err
		}
	}
	if o.quiet && (output == nil || output.dest != "-") {
		fmt.Fprintln(out, id)
	}
	if o.iidfile != "" {
		if err := os.WriteFile(o.iidfile, []byte(id), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// buildContextTar is the context as the daemon takes it: the directory as
// a tar (with the Dockerfile added when it lives elsewhere or comes from
// stdin), or the tar given on stdin. It returns the Dockerfile's name in
// the tar ("" for the default).
func buildContextTar(ctx context.Context, cmd *cobra.Command, ctxArg, file string) (io.ReadCloser, string, error) {
	if ctxArg == "-" {
		if file == "-" {
			return nil, "", errors.New("invalid argument: can't use stdin for both build context and dockerfile")
		}
		return io.NopCloser(cmd.InOrStdin()), file, nil
	}
	info, err := os.Stat(ctxArg)
	if err != nil {
		return nil, "", fmt.Errorf("unable to prepare context: path %q not found", ctxArg)
	}
	if !info.IsDir() {
		return nil, "", fmt.Errorf("unable to prepare context: context must be a directory: %s", ctxArg)
	}
	var extra []byte
	name := ""
	switch {
	case file == "-":
		if extra, err = io.ReadAll(cmd.InOrStdin()); err != nil {
			return nil, "", err
		}
	case file != "":
		abs, _ := filepath.Abs(file)
		dir, _ := filepath.Abs(ctxArg)
		if rel, err := filepath.Rel(dir, abs); err == nil && !strings.HasPrefix(rel, "..") {
			name = filepath.ToSlash(rel)
			break
		}
		if extra, err = os.ReadFile(file); err != nil {
			return nil, "", fmt.Errorf("unable to prepare context: %w", err)
		}
	default:
		if _, err := os.Stat(filepath.Join(ctxArg, "Dockerfile")); err != nil {
			if _, err := os.Stat(filepath.Join(ctxArg, "dockerfile")); err == nil {
				name = "dockerfile"
			} else {
				abs, _ := filepath.Abs(filepath.Join(ctxArg, "Dockerfile"))
				return nil, "", fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat %s: no such file or directory", abs)
			}
		}
	}
	if extra != nil {
		var b [8]byte
		_, _ = rand.Read(b[:])
		name = ".dockerfile." + hex.EncodeToString(b[:])
	}
	pr, pw := io.Pipe()
	go func() {
		if extra != nil {
			tw := tar.NewWriter(pw)
			hdr := &tar.Header{Name: name, Mode: 0o600, Size: int64(len(extra)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
			if err := tw.WriteHeader(hdr); err == nil {
				_, err = tw.Write(extra)
			}
			// Flush, not Close: the directory's entries follow in the same
			// archive.
			if err := tw.Flush(); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(archive.Tar(ctx, ctxArg, pw, archive.TarOptions{}))
	}()
	return pr, name, nil
}

// localContext says whether the context directory can be named rather
// than sent: a gantry daemon on this machine, reached over a unix socket,
// reads it in place (GANTRY_BUILD_CONTEXT=tar sends it as docker does).
func localContext(ctx context.Context, api *apiClient, ctxArg string) (string, bool) {
	if ctxArg == "-" || os.Getenv("GANTRY_BUILD_CONTEXT") == "tar" || !strings.HasPrefix(api.host, "unix://") {
		return "", false
	}
	dir, err := filepath.Abs(ctxArg)
	if err != nil {
		return "", false
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", false
	}
	ping, err := api.Ping(ctx)
	if err != nil || !strings.HasPrefix(ping.Server, "gantry/") {
		return "", false
	}
	return dir, true
}

// localContextBody is the request body of a build of a named directory:
// the Dockerfile when it is not in the context (or comes from stdin), else
// nothing and its name in the context.
func localContextBody(cmd *cobra.Command, dir, file string) (io.ReadCloser, string, error) {
	empty := io.NopCloser(strings.NewReader(""))
	switch {
	case file == "-":
		data, err := io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return nil, "", err
		}
		return io.NopCloser(strings.NewReader(string(data))), "", nil
	case file != "":
		abs, _ := filepath.Abs(file)
		if rel, err := filepath.Rel(dir, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return empty, filepath.ToSlash(rel), nil
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, "", fmt.Errorf("unable to prepare context: %w", err)
		}
		return io.NopCloser(strings.NewReader(string(data))), "", nil
	}
	if _, err := os.Stat(filepath.Join(dir, "Dockerfile")); err != nil {
		if _, err := os.Stat(filepath.Join(dir, "dockerfile")); err == nil {
			return empty, "dockerfile", nil
		}
		return nil, "", fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat %s: no such file or directory", filepath.Join(dir, "Dockerfile"))
	}
	return empty, "", nil
}

func hasBuildArg(args []string, name string) bool {
	for _, a := range args {
		if k, _, _ := strings.Cut(a, "="); k == name {
			return true
		}
	}
	return false
}
