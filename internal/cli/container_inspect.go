package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/template"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/spf13/cobra"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
)

// getRef fetches one object: its typed value and its JSON as the daemon
// sent it.
type getRef func(ctx context.Context, ref string) (any, []byte, error)

type inspectOptions struct {
	format, objectType string
	size               bool
}

// inspectTypes are the object types `inspect --type` names, as Docker's.
var inspectTypes = []string{"config", "container", "image", "network", "node", "plugin", "secret", "service", "task", "volume"}

func newInspectCommand() *cobra.Command {
	var o inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on Docker objects",
		Args:  requiresMinArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			if cmd.Flags().Changed("type") && o.objectType == "" {
				return fmt.Errorf(`type is empty: must be one of "%s"`, strings.Join(inspectTypes, `", "`))
			}
			known := false
			for _, t := range inspectTypes {
				known = known || t == o.objectType
			}
			if o.objectType != "" && !known {
				return fmt.Errorf(`unknown type: %q: must be one of "%s"`, o.objectType, strings.Join(inspectTypes, `", "`))
			}
			return inspectAll(ctx, cmd.OutOrStdout(), api.host, args, o.format, anyObject(api, cmd.ErrOrStderr(), o.size, o.objectType))
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&o.format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	f.StringVar(&o.objectType, "type", "", "Only inspect objects of the given type")
	f.BoolVarP(&o.size, "size", "s", false, "Display total file sizes if the type is container")
	return cmd
}

func newContainerInspectCommand() *cobra.Command {
	var o inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  requiresMinArgs(1),
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			return inspectAll(ctx, cmd.OutOrStdout(), api.host, args, o.format, containerObject(api, o.size))
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&o.format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	f.BoolVarP(&o.size, "size", "s", false, "Display total file sizes")
	return cmd
}

func containerObject(api *apiClient, size bool) getRef {
	return func(ctx context.Context, ref string) (any, []byte, error) {
		res, err := api.ContainerInspect(ctx, ref, apiclient.ContainerInspectOptions{Size: size})
		if err != nil {
			return nil, nil, err
		}
		return res.Container, res.Raw, nil
	}
}

func imageObject(api *apiClient) getRef {
	return func(ctx context.Context, ref string) (any, []byte, error) {
		var raw bytes.Buffer
		res, err := api.ImageInspect(ctx, ref, apiclient.ImageInspectWithRawResponse(&raw))
		if err != nil {
			return nil, nil, err
		}
		return res.InspectResponse, raw.Bytes(), nil
	}
}

func networkObject(api *apiClient) getRef {
	return func(ctx context.Context, ref string) (any, []byte, error) {
		res, err := api.NetworkInspect(ctx, ref, apiclient.NetworkInspectOptions{})
		if err != nil {
			return nil, nil, err
		}
		return res.Network, res.Raw, nil
	}
}

func volumeObject(api *apiClient) getRef {
	return func(ctx context.Context, ref string) (any, []byte, error) {
		res, err := api.VolumeInspect(ctx, ref, apiclient.VolumeInspectOptions{})
		if err != nil {
			return nil, nil, err
		}
		return res.Volume, res.Raw, nil
	}
}

// anyObject looks a name up as a container, then an image, a network and
// a volume, as `docker inspect` does (gantry has no swarm objects).
func anyObject(api *apiClient, stderr io.Writer, size bool, only string) getRef {
	kinds := []struct {
		name string
		get  getRef
	}{
		{"container", containerObject(api, size)},
		{"image", imageObject(api)},
		{"network", networkObject(api)},
		{"volume", volumeObject(api)},
	}
	return func(ctx context.Context, ref string) (any, []byte, error) {
		for _, k := range kinds {
			if only != "" && only != k.name {
				continue
			}
			v, raw, err := k.get(ctx, ref)
			if err != nil {
				if only == "" && skippable(err) {
					continue
				}
				return nil, nil, err
			}
			if size && k.name != "container" {
				fmt.Fprintln(stderr, "WARNING: --size ignored for", k.name)
			}
			return v, raw, nil
		}
		return nil, nil, fmt.Errorf("error: no such object: %s", ref)
	}
}

func skippable(err error) bool {
	return cerrdefs.IsNotFound(err) || strings.Contains(err.Error(), "not supported") ||
		strings.Contains(err.Error(), "invalid reference format")
}

// inspectAll prints the objects: an indented JSON array, one compact JSON
// document per line with --format=json, or the template per object. The
// errors come after the output, one line each, and make the status 1; a
// template that does not parse is status 64.
func inspectAll(ctx context.Context, out io.Writer, host string, refs []string, format string, get getRef) error {
	var tmpl *template.Template
	if format != "" && format != "json" {
		t, err := parseTemplate(format)
		if err != nil {
			return &statusError{64, fmt.Sprintf("template parsing error: %v", err)}
		}
		tmpl = t
	}
	var errs []error
	var raws [][]byte
	var buf bytes.Buffer
	for _, ref := range refs {
		v, raw, err := get(ctx, ref)
		if err != nil {
			if l, ok := connError(err, host); ok {
				err = errors.New(l)
			}
			errs = append(errs, err)
			continue
		}
		if tmpl == nil {
			if raw == nil {
				if raw, err = json.Marshal(v); err != nil {
					errs = append(errs, err)
					continue
				}
			}
			raws = append(raws, raw)
			continue
		}
		if err := executeInspect(&buf, tmpl, v, raw); err != nil {
			errs = append(errs, err)
		}
	}
	if tmpl == nil {
		var all bytes.Buffer
		all.WriteByte('[')
		all.Write(bytes.Join(raws, []byte{','}))
		all.WriteByte(']')
		var pretty bytes.Buffer
		var err error
		if format == "json" {
			err = json.Compact(&pretty, all.Bytes())
		} else {
			err = json.Indent(&pretty, all.Bytes(), "", "    ")
		}
		if err != nil {
			return err
		}
		pretty.WriteByte('\n')
		pretty.WriteTo(out)
	} else if buf.Len() == 0 {
		io.WriteString(out, "\n")
	} else {
		buf.WriteTo(out)
	}
	if len(errs) > 0 {
		return &statusError{1, errorText(errors.Join(errs...))}
	}
	return nil
}

// executeInspect runs the template on the typed value, and on the raw
// JSON when the typed value does not have what it asks for.
func executeInspect(out *bytes.Buffer, tmpl *template.Template, v any, raw []byte) error {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, v); err == nil {
		out.Write(b.Bytes())
		out.WriteByte('\n')
		return nil
	} else if raw == nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return fmt.Errorf("unable to read inspect data: %w", err)
	}
	b.Reset()
	if err := tmpl.Option("missingkey=error").Execute(&b, generic); err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	out.Write(b.Bytes())
	out.WriteByte('\n')
	return nil
}
