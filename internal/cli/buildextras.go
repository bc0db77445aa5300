package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-dev/gantry/internal/archive"
	"github.com/gantry-dev/gantry/internal/build"
)

// readSecrets reads --secret values as buildx takes them:
// id=ID[,src=PATH|source=PATH][,env=VAR][,type=file|env]. With neither src
// nor env, the environment variable named ID is used when set, else the
// file named ID.
func readSecrets(specs []string) (map[string][]byte, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	out := map[string][]byte{}
	for _, spec := range specs {
		opts := map[string]string{}
		for _, kv := range strings.Split(spec, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("invalid secret %q: expected key=value pairs (id=ID,src=PATH or id=ID,env=VAR)", spec)
			}
			opts[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
		id := opts["id"]
		src := opts["src"]
		if src == "" {
			src = opts["source"]
		}
		env := opts["env"]
		switch opts["type"] {
		case "", "file", "env":
		default:
			return nil, fmt.Errorf("invalid secret %q: unsupported type %q", spec, opts["type"])
		}
		if id == "" {
			id = filepath.Base(src)
			if src == "" {
				id = env
			}
		}
		if id == "" {
			return nil, fmt.Errorf("invalid secret %q: an id is required", spec)
		}
		if src == "" && env == "" {
			if opts["type"] == "env" {
				env = id
			} else if _, ok := os.LookupEnv(id); ok && opts["type"] == "" {
				env = id
			} else {
				src = id
			}
		}
		var data []byte
		if env != "" && src == "" {
			v, ok := os.LookupEnv(env)
			if !ok {
				return nil, fmt.Errorf("secret %s: environment variable %s is not set", id, env)
			}
			data = []byte(v)
		} else {
			f, err := os.Open(src)
			if err != nil {
				return nil, fmt.Errorf("secret %s: %w", id, err)
			}
			data, err = io.ReadAll(io.LimitReader(f, build.MaxSecretSize+1))
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("secret %s: %w", id, err)
			}
		}
		if len(data) > build.MaxSecretSize {
			return nil, fmt.Errorf("secret %s is too big: at most %d bytes", id, build.MaxSecretSize)
		}
		out[id] = data
	}
	return out, nil
}

// buildHeader is the request's extra headers: the secrets.
func buildHeader(secrets map[string][]byte) (http.Header, error) {
	if len(secrets) == 0 {
		return nil, nil
	}
	v, err := build.EncodeSecrets(secrets)
	if err != nil {
		return nil, err
	}
	return http.Header{build.SecretsHeader: {v}}, nil
}

// buildOutput is --output: where the built file system goes instead of
// (only) the image store.
type buildOutput struct {
	typ  string // local or tar
	dest string // a directory (local), a file or "-" (tar)
}

// parseOutput reads --output as buildx does: type=local,dest=DIR,
// type=tar,dest=FILE|-, or the shorthand DIR ("-" for a tar on stdout).
func parseOutput(spec string) (*buildOutput, error) {
	if spec == "" {
		return nil, nil
	}
	if !strings.Contains(spec, "=") {
		if spec == "-" {
			return &buildOutput{typ: "tar", dest: "-"}, nil
		}
		return &buildOutput{typ: "local", dest: spec}, nil
	}
	o := &buildOutput{}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("invalid output %q: expected key=value pairs", spec)
		}
		switch strings.TrimSpace(k) {
		case "type":
			o.typ = v
		case "dest":
			o.dest = v
		default:
			return nil, fmt.Errorf("invalid output %q: unknown option %q (type and dest are supported)", spec, k)
		}
	}
	switch o.typ {
	case "local", "tar":
	case "":
		return nil, fmt.Errorf("invalid output %q: type is required (local or tar)", spec)
	default:
		return nil, fmt.Errorf("invalid output %q: type %q is not supported by gantry (local and tar are)", spec, o.typ)
	}
	if o.dest == "" {
		return nil, fmt.Errorf("invalid output %q: dest is required", spec)
	}
	return o, nil
}

// check refuses before the build a destination that cannot be written.
func (o *buildOutput) check() error {
	if o.dest == "-" {
		return nil
	}
	if o.typ == "local" {
		if st, err := os.Stat(o.dest); err == nil && !st.IsDir() {
			return fmt.Errorf("failed to export: %s is not a directory", o.dest)
		}
		if err := os.MkdirAll(o.dest, 0o755); err != nil {
			return fmt.Errorf("failed to export: %w", err)
		}
		probe, err := os.CreateTemp(o.dest, ".gantry-output-")
		if err != nil {
			return fmt.Errorf("failed to export: %w", err)
		}
		probe.Close()
		return os.Remove(probe.Name())
	}
	if st, err := os.Stat(o.dest); err == nil && st.IsDir() {
		return fmt.Errorf("failed to export: %s is a directory", o.dest)
	}
	return nil
}

// export writes the file system of the image id: its layers, from the
// daemon's `save`, applied in order (whiteouts removing what lower layers
// had). Every entry is written with RESOLVE_IN_ROOT under the destination,
// so no name or symlink in the image reaches outside it.
func (o *buildOutput) export(ctx context.Context, api *apiClient, id string, stdout io.Writer) error {
	tmp, err := os.MkdirTemp("", "gantry-output-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	saved := filepath.Join(tmp, "saved")
	if err := os.Mkdir(saved, 0o700); err != nil {
		return err
	}
	rc, err := api.ImageSave(ctx, []string{id})
	if err != nil {
		return err
	}
	_, err = archive.Apply(ctx, saved, rc, archive.ApplyOptions{Whiteouts: archive.LiteralWhiteouts, NoDevices: true})
	rc.Close()
	if err != nil {
		return fmt.Errorf("failed to export: reading the image: %w", err)
	}
	raw, err := os.ReadFile(filepath.Join(saved, "manifest.json"))
	if err != nil {
		return fmt.Errorf("failed to export: %w", err)
	}
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(raw, &manifest); err != nil || len(manifest) != 1 {
		return fmt.Errorf("failed to export: unexpected manifest.json in the saved image")
	}
	dir := o.dest
	if o.typ == "tar" {
		dir = filepath.Join(tmp, "rootfs")
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
	}
	root, err := os.OpenRoot(saved)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, l := range manifest[0].Layers {
		f, err := root.Open(filepath.ToSlash(l))
		if err != nil {
			return fmt.Errorf("failed to export: layer %s: %w", l, err)
		}
		dr, _, err := archive.Decompress(f)
		if err == nil {
			_, err = archive.Apply(ctx, dir, dr, archive.ApplyOptions{Whiteouts: archive.ApplyWhiteouts})
			dr.Close()
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("failed to export: %w", err)
		}
	}
	if o.typ == "local" {
		return nil
	}
	w := stdout
	if o.dest != "-" {
		f, err := os.Create(o.dest)
		if err != nil {
			return fmt.Errorf("failed to export: %w", err)
		}
		defer f.Close()
		w = f
		if err := archive.Tar(ctx, dir, w, archive.TarOptions{}); err != nil {
			os.Remove(o.dest)
			return fmt.Errorf("failed to export: %w", err)
		}
		return f.Close()
	}
	return archive.Tar(ctx, dir, w, archive.TarOptions{})
}

// buildExtras reads --secret, --no-cache-filter and --output: the request
// header and query they add, and the export to make after the build.
// Secrets and the filter reach only a gantry daemon: Docker's classic
// build API has no place for them.
func buildExtras(ctx context.Context, api *apiClient, o *buildOptions, query url.Values) (http.Header, *buildOutput, error) {
	output, err := parseOutput(o.output)
	if err != nil {
		return nil, nil, err
	}
	if output != nil {
		if err := output.check(); err != nil {
			return nil, nil, err
		}
	}
	secrets, err := readSecrets(o.secrets)
	if err != nil {
		return nil, nil, err
	}
	var filter []string
	for _, f := range o.noCacheFilter {
		for _, s := range strings.Split(f, ",") {
			if s = strings.TrimSpace(s); s != "" {
				filter = append(filter, s)
			}
		}
	}
	if len(secrets) > 0 || len(filter) > 0 {
		ping, err := api.Ping(ctx)
		if err != nil {
			return nil, nil, err
		}
		if !strings.HasPrefix(ping.Server, "gantry/") {
			return nil, nil, fmt.Errorf("--secret and --no-cache-filter need a gantry daemon: Docker's classic build API cannot carry them")
		}
	}
	if len(filter) > 0 {
		query.Set("gantry.nocachefilter", strings.Join(filter, ","))
	}
	hdr, err := buildHeader(secrets)
	return hdr, output, err
}
