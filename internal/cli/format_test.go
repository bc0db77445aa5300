package cli

import (
	"bytes"
	"testing"
)

// The direct filling of {{.Field}} formats prints what the template would.
func TestTableFormatsWithoutTemplate(t *testing.T) {
	rows := []map[string]any{
		{"ID": "abc", "Name": "one", "Size": "2MB", "Count": 3},
		{"ID": "def", "Name": "", "Size": "10kB"},
	}
	headers := map[string]string{"ID": "ID", "Name": "NAME", "Size": "SIZE"}
	for _, format := range []string{
		"table {{.ID}}\t{{.Name}}\t{{.Size}}",
		"{{.ID}} {{ .Name }}",
		"{{.Missing}}-{{.ID}}",
		"{{.Count}}",
		"table {{.Count}}\t{{.ID}}",
		"{{.ID | printf \"%q\"}}",
		"plain text",
		"a }} b {{.ID}}",
		"{{json .}}",
	} {
		var direct, viaTemplate bytes.Buffer
		err1 := table{out: &direct, format: format, headers: headers}.print(rows, nil)
		if _, simple := fieldsOnly(format); simple {
			// the same table with a format that is not simple, so that it
			// goes through text/template
			err2 := table{out: &viaTemplate, format: format + "{{if false}}{{end}}", headers: headers}.print(rows, nil)
			if (err1 == nil) != (err2 == nil) || direct.String() != viaTemplate.String() {
				t.Errorf("%q: direct %q (%v), template %q (%v)", format, direct.String(), err1, viaTemplate.String(), err2)
			}
		} else if err1 != nil && format != "a }} b {{.ID}}" {
			t.Errorf("%q: %v", format, err1)
		}
	}
	if _, ok := fieldsOnly("{{.ID}}\t{{.Names}}"); !ok {
		t.Error("a format of fields only is not filled directly")
	}
	if _, ok := fieldsOnly("{{.ID}} {{upper .Names}}"); ok {
		t.Error("a format with a function is filled directly")
	}
}
