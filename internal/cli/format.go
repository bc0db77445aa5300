package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/docker/go-units"
)

// table prints rows through an optional --format, as the docker CLI does:
// "" is the default table, "table TEMPLATE" a table with headers from the
// template's fields, "json" one JSON object per line, anything else a Go
// template per row.
type table struct {
	out      io.Writer
	format   string
	defaults string            // the default "table ..." template
	headers  map[string]string // field name → header
}

func (t table) print(rows []map[string]any, jsonRows []any) error {
	format := t.format
	if format == "" {
		format = t.defaults
	}
	if format == "json" {
		enc := json.NewEncoder(t.out)
		for _, r := range jsonRows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	isTable := strings.HasPrefix(format, "table")
	body := strings.TrimSpace(strings.TrimPrefix(format, "table"))
	body = strings.ReplaceAll(body, `\t`, "\t")
	body = strings.ReplaceAll(body, `\n`, "\n")
	tmpl, err := template.New("format").Funcs(templateFuncs).Parse(body)
	if err != nil {
		return fmt.Errorf("template parsing error: %v", err)
	}
	// One write at the end, not one per cell.
	buf := bufio.NewWriterSize(t.out, 64<<10)
	defer buf.Flush()
	var w io.Writer = buf
	var tw *tabwriter.Writer
	if isTable {
		tw = tabwriter.NewWriter(buf, 10, 1, 3, ' ', 0)
		w = tw
		headers := map[string]any{}
		for k, v := range t.headers {
			headers[k] = v
		}
		if err := tmpl.Execute(w, headers); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	for _, r := range rows {
		if err := tmpl.Execute(w, r); err != nil {
			return fmt.Errorf("template: %v", err)
		}
		fmt.Fprintln(w)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"join":  strings.Join,
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
}

// humanSize prints sizes as Docker does: 2.12MB, 77.9MB, 1.2GB.
func humanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// since prints "2 minutes ago".
func since(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return "N/A"
	}
	return units.HumanDuration(time.Now().UTC().Sub(t)) + " ago"
}
