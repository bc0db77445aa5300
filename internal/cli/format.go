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
	// Formats made only of {{.Field}} (the defaults among them) are filled
	// in directly: a template costs more to parse and run than the rest of
	// `gantry ps` or `gantry images` does.
	parts, simple := fieldsOnly(body)
	var tmpl *template.Template
	parse := func() error {
		if tmpl != nil {
			return nil
		}
		var err error
		tmpl, err = template.New("format").Funcs(templateFuncs).Parse(body)
		if err != nil {
			return fmt.Errorf("template parsing error: %v", err)
		}
		return nil
	}
	if !simple {
		if err := parse(); err != nil {
			return err
		}
	}
	execute := func(w io.Writer, row map[string]any) error {
		if simple && fillable(parts, row) {
			return fill(w, parts, row)
		}
		if err := parse(); err != nil {
			return err
		}
		return tmpl.Execute(w, row)
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
		if err := execute(w, headers); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	for _, r := range rows {
		if err := execute(w, r); err != nil {
			return fmt.Errorf("template: %v", err)
		}
		fmt.Fprintln(w)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// templatePart is literal text, or the name of a field to print.
type templatePart struct {
	text  string
	field bool
}

// fieldsOnly splits a template made of text and {{.Field}} actions only;
// ok is false for anything else (functions, pipelines, conditions).
func fieldsOnly(body string) (parts []templatePart, ok bool) {
	for body != "" {
		i := strings.Index(body, "{{")
		if i < 0 {
			break
		}
		if strings.Contains(body[:i], "}}") {
			return nil, false
		}
		parts = append(parts, templatePart{text: body[:i]})
		j := strings.Index(body[i:], "}}")
		if j < 0 {
			return nil, false
		}
		name, isField := strings.CutPrefix(strings.TrimSpace(body[i+2:i+j]), ".")
		if !isField || name == "" {
			return nil, false
		}
		for k, c := range name {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || k > 0 && c >= '0' && c <= '9' || c == '_') {
				return nil, false
			}
		}
		parts = append(parts, templatePart{text: name, field: true})
		body = body[i+j+2:]
	}
	if strings.Contains(body, "}}") {
		return nil, false
	}
	return append(parts, templatePart{text: body}), true
}

// fillable says whether fill prints the row's fields as text/template
// would: strings and missing fields (anything else goes through the
// template).
func fillable(parts []templatePart, row map[string]any) bool {
	for _, p := range parts {
		if !p.field {
			continue
		}
		switch row[p.text].(type) {
		case nil, string:
		default:
			return false
		}
	}
	return true
}

// fill prints one row through parts; see fillable.
func fill(w io.Writer, parts []templatePart, row map[string]any) error {
	for _, p := range parts {
		s := p.text
		if p.field {
			s = "<no value>"
			if v, ok := row[p.text].(string); ok {
				s = v
			}
		}
		if _, err := io.WriteString(w, s); err != nil {
			return err
		}
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
