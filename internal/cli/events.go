package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/spf13/cobra"

	apiclient "github.com/gantry-dev/gantry/internal/api/client"
)

// `events`: the daemon's event stream, one line per event as docker
// prints it ("2026-11-27T12:00:00.000000000Z container start ID (image=busybox,
// name=x)"), or through --format ("json" or a Go template).

type eventsOptions struct {
	since, until, format string
	filters              []string
}

func newEventsCommand() *cobra.Command {
	var o eventsOptions
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Args:  noArgs,
		RunE: withAPI(func(ctx context.Context, cmd *cobra.Command, args []string, api *apiClient) error {
			return runEvents(ctx, cmd, api, o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.since, "since", "", "Show all events created since timestamp")
	f.StringVar(&o.until, "until", "", "Stream events until this timestamp")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "Filter output based on conditions provided")
	f.StringVar(&o.format, "format", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	return cmd
}

func runEvents(ctx context.Context, cmd *cobra.Command, api *apiClient, o eventsOptions) error {
	filters, err := filtersOf(o.filters)
	if err != nil {
		return err
	}
	var tmpl *template.Template
	switch format := o.format; {
	case format == "json":
		format = "{{json .}}"
		fallthrough
	case format != "":
		if tmpl, err = template.New("events").Funcs(templateFuncs).Parse(format); err != nil {
			return fmt.Errorf("template parsing error: %v", err)
		}
	}
	out := bufio.NewWriter(cmd.OutOrStdout())
	err = api.Events(ctx, apiclient.EventsOptions{Since: o.since, Until: o.until, Filters: filters}, func(m events.Message) error {
		if tmpl != nil {
			if err := tmpl.Execute(out, m); err != nil {
				return err
			}
			fmt.Fprintln(out)
		} else {
			printEvent(out, m)
		}
		// Each event as it comes: someone is watching.
		return out.Flush()
	})
	if errors.Is(err, context.Canceled) {
		return nil // interrupted: the stream was meant to be followed until then
	}
	return err
}

// printEvent writes an event as docker's CLI does: time with nanoseconds,
// type, action, actor and its attributes sorted by name.
func printEvent(w io.Writer, m events.Message) {
	switch {
	case m.TimeNano != 0:
		fmt.Fprintf(w, "%s ", time.Unix(0, m.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00"))
	case m.Time != 0:
		fmt.Fprintf(w, "%s ", time.Unix(m.Time, 0).Format("2006-01-02T15:04:05.000000000Z07:00"))
	}
	fmt.Fprintf(w, "%s %s %s", m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		keys := make([]string, 0, len(m.Actor.Attributes))
		for k := range m.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		attrs := make([]string, len(keys))
		for i, k := range keys {
			attrs[i] = k + "=" + m.Actor.Attributes[k]
		}
		fmt.Fprintf(w, " (%s)", strings.Join(attrs, ", "))
	}
	fmt.Fprintln(w)
}
