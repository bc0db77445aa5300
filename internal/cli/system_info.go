package cli

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/system"
	"github.com/spf13/cobra"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
)

// versionTemplate is docker's `version` layout.
const versionTemplate = `{{with .Client -}}
Client:
 Version:	{{.Version}}
 API version:	{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Go version:	{{.GoVersion}}
 Git commit:	{{.GitCommit}}
 Built:	{{.BuildTime}}
 OS/Arch:	{{.Os}}/{{.Arch}}
 Context:	{{.Context}}
{{- end}}

{{- if ne .Server nil}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:	{{.Version}}
  API version:	{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:	{{index .Details "GoVersion"}}
  Git commit:	{{index .Details "GitCommit"}}
  Built:	{{index .Details "BuildTime"}}
  OS/Arch:	{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:	{{index .Details "Experimental"}}
  {{- else }}
  Version:	{{$component.Version}}
  {{- $detailsOrder := getDetailsOrder $component}}
  {{- range $key := $detailsOrder}}
  {{$key}}:	{{index $component.Details $key}}
   {{- end}}
  {{- end}}
 {{- end}}
 {{- end}}{{- end}}`

type clientVersion struct {
	Version           string `json:"Version,omitempty"`
	APIVersion        string `json:"ApiVersion,omitempty"`
	DefaultAPIVersion string `json:"DefaultAPIVersion,omitempty"`
	GitCommit         string `json:"GitCommit,omitempty"`
	GoVersion         string `json:"GoVersion,omitempty"`
	Os                string `json:"Os,omitempty"`
	Arch              string `json:"Arch,omitempty"`
	BuildTime         string `json:"BuildTime,omitempty"`
	Context           string `json:"Context"`
}

type serverVersion struct {
	Platform      apiclient.PlatformInfo    `json:",omitempty"`
	Version       string                    `json:"Version"`
	APIVersion    string                    `json:"ApiVersion"`
	MinAPIVersion string                    `json:"MinAPIVersion,omitempty"`
	Os            string                    `json:"Os"`
	Arch          string                    `json:"Arch"`
	Components    []system.ComponentVersion `json:"Components,omitempty"`
	GitCommit     string                    `json:"GitCommit,omitempty"`
	GoVersion     string                    `json:"GoVersion,omitempty"`
	KernelVersion string                    `json:"KernelVersion,omitempty"`
	Experimental  bool                      `json:"Experimental,omitempty"`
	BuildTime     string                    `json:"BuildTime,omitempty"`
}

type versionInfo struct {
	Client clientVersion
	Server *serverVersion
}

func newClientVersion(api *apiClient) clientVersion {
	v := clientVersion{
		Version: Version, DefaultAPIVersion: apiclient.MaxAPIVersion, APIVersion: apiclient.MaxAPIVersion, GoVersion: runtime.Version(),
		GitCommit: Version, Os: runtime.GOOS, Arch: runtime.GOARCH, Context: "default",
	}
	if api != nil {
		v.APIVersion = api.ClientVersion()
	}
	return v
}

func newServerVersion(sv apiclient.ServerVersionResult) *serverVersion {
	out := &serverVersion{
		Platform: sv.Platform, Version: sv.Version, APIVersion: sv.APIVersion, MinAPIVersion: sv.MinAPIVersion,
		Os: sv.Os, Arch: sv.Arch, Experimental: sv.Experimental,
	}
	engine := false
	for _, c := range sv.Components {
		if c.Name == "Engine" {
			engine = true
			if bt, ok := c.Details["BuildTime"]; ok {
				if t, err := time.Parse(time.RFC3339Nano, bt); err == nil {
					c.Details["BuildTime"] = t.Format(time.ANSIC)
				}
				out.BuildTime = bt
			}
			out.GitCommit, out.GoVersion, out.KernelVersion = c.Details["GitCommit"], c.Details["GoVersion"], c.Details["KernelVersion"]
			out.Experimental, _ = strconv.ParseBool(c.Details["Experimental"])
		}
		out.Components = append(out.Components, c)
	}
	if !engine {
		out.Components = append(out.Components, system.ComponentVersion{
			Name: "Engine", Version: sv.Version,
			Details: map[string]string{"ApiVersion": sv.APIVersion, "MinAPIVersion": sv.MinAPIVersion, "Os": sv.Os, "Arch": sv.Arch},
		})
	}
	return out
}

func newVersionCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the gantry version information",
		Args:  noArgs,
		RunE: command(func(cmd *cobra.Command, args []string) error {
			src := format
			switch src {
			case "":
				src = versionTemplate
			case "json":
				src = "{{json .}}"
			}
			tmpl, err := template.New("version").Funcs(dockerTemplateFuncs()).Funcs(template.FuncMap{"getDetailsOrder": detailsOrder}).Parse(src)
			if err != nil {
				return &statusError{64, fmt.Sprintf("template parsing error: %v", err)}
			}
			ctx := cmd.Context()
			vd := versionInfo{Client: newClientVersion(nil)}
			api, err := newAPIClient(ctx, cmd)
			if err == nil {
				defer api.Close()
				var sv apiclient.ServerVersionResult
				if sv, err = api.ServerVersion(ctx, apiclient.ServerVersionOptions{}); err == nil {
					vd.Server = newServerVersion(sv)
				}
				vd.Client = newClientVersion(api) // with the negotiated version

			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 20, 1, 1, ' ', 0)
			perr := tmpl.Execute(tw, vd)
			tw.Write([]byte("\n"))
			tw.Flush()
			if err != nil {
				return err
			}
			return perr
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	return cmd
}

func detailsOrder(v system.ComponentVersion) []string {
	keys := make([]string, 0, len(v.Details))
	for k := range v.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func newInfoCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  noArgs,
		RunE: command(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var info *system.Info
			api, err := newAPIClient(ctx, cmd)
			if err == nil {
				defer api.Close()
				var res apiclient.SystemInfoResult
				if res, err = api.Info(ctx, apiclient.InfoOptions{}); err == nil {
					info = &res.Info
				}
			}
			out := cmd.OutOrStdout()
			if format != "" {
				if err != nil {
					return err
				}
				src := format
				if src == "json" {
					src = "{{json .}}"
				}
				tmpl, perr := parseTemplate(src)
				if perr != nil {
					return &statusError{64, fmt.Sprintf("template parsing error: %v", perr)}
				}
				data := struct {
					*system.Info
					ClientInfo clientVersion
				}{info, newClientVersion(api)}
				if perr := tmpl.Execute(out, data); perr != nil {
					return perr
				}
				fmt.Fprintln(out)
				return nil
			}
			cv := newClientVersion(api)
			fmt.Fprintln(out, "Client:")
			fmt.Fprintln(out, " Version:   ", cv.Version)
			fmt.Fprintln(out, " Context:   ", cv.Context)
			fmt.Fprintln(out, " Debug Mode:", false)
			fmt.Fprintln(out)
			fmt.Fprintln(out, "Server:")
			if err != nil {
				line := errorText(err)
				if l, ok := connError(err, hostOfCmd(cmd)); ok {
					line = l
				}
				fmt.Fprintln(cmd.ErrOrStderr(), "ERROR:", line)
				return errors.New("errors pretty printing info")
			}
			printServerInfo(out, cmd.ErrOrStderr(), info)
			return nil
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	return cmd
}

// printServerInfo is the server half of docker's `info`, without what
// gantry does not have (swarm, plugins beyond the built-in ones).
func printServerInfo(out, stderr io.Writer, info *system.Info) {
	line := func(a ...any) { fmt.Fprintln(out, a...) }
	nonEmpty := func(label, v string) {
		if v != "" {
			line(label, v)
		}
	}
	line(" Containers:", info.Containers)
	line("  Running:", info.ContainersRunning)
	line("  Paused:", info.ContainersPaused)
	line("  Stopped:", info.ContainersStopped)
	line(" Images:", info.Images)
	nonEmpty(" Server Version:", info.ServerVersion)
	nonEmpty(" Storage Driver:", info.Driver)
	for _, pair := range info.DriverStatus {
		fmt.Fprintf(out, "  %s: %s\n", pair[0], pair[1])
	}
	nonEmpty(" Logging Driver:", info.LoggingDriver)
	nonEmpty(" Cgroup Driver:", info.CgroupDriver)
	nonEmpty(" Cgroup Version:", info.CgroupVersion)
	line(" Plugins:")
	line("  Volume:", strings.Join(info.Plugins.Volume, " "))
	line("  Network:", strings.Join(info.Plugins.Network, " "))
	line("  Log:", strings.Join(info.Plugins.Log, " "))
	line(" Swarm:", info.Swarm.LocalNodeState)
	if len(info.Runtimes) > 0 {
		names := make([]string, 0, len(info.Runtimes))
		for name := range info.Runtimes {
			names = append(names, name)
		}
		sort.Strings(names)
		line(" Runtimes:", strings.Join(names, " "))
		line(" Default Runtime:", info.DefaultRuntime)
	}
	if info.OSType == "linux" {
		line(" Init Binary:", info.InitBinary)
		line(" containerd version:", info.ContainerdCommit.ID)
		line(" runc version:", info.RuncCommit.ID)
		line(" init version:", info.InitCommit.ID)
		sec := info.SecurityOptions
		if len(sec) > 0 {
			line(" Security Options:")
			for _, s := range sec {
				name, profile := "", ""
				for _, kv := range strings.Split(s, ",") {
					k, v, _ := strings.Cut(kv, "=")
					switch k {
					case "name":
						name = v
					case "profile":
						profile = v
					}
				}
				line("  " + name)
				if profile != "" {
					line("   Profile:", profile)
				}
			}
		}
	}
	nonEmpty(" Kernel Version:", info.KernelVersion)
	nonEmpty(" Operating System:", info.OperatingSystem)
	nonEmpty(" OSType:", info.OSType)
	nonEmpty(" Architecture:", info.Architecture)
	line(" CPUs:", info.NCPU)
	line(" Total Memory:", units.BytesSize(float64(info.MemTotal)))
	nonEmpty(" Name:", info.Name)
	nonEmpty(" ID:", info.ID)
	line(" Docker Root Dir:", info.DockerRootDir)
	line(" Debug Mode:", info.Debug)
	nonEmpty(" HTTP Proxy:", info.HTTPProxy)
	nonEmpty(" HTTPS Proxy:", info.HTTPSProxy)
	nonEmpty(" No Proxy:", info.NoProxy)
	if len(info.Labels) > 0 {
		line(" Labels:")
		for _, l := range info.Labels {
			line("  " + l)
		}
	}
	line(" Experimental:", info.ExperimentalBuild)
	line(" Live Restore Enabled:", info.LiveRestoreEnabled)
	fmt.Fprintln(out)
	for _, w := range info.Warnings {
		fmt.Fprintln(stderr, w)
	}
}
