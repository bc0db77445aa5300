package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
)

// fakeObjects serves inspect from a fixed set: typed values and the raw
// JSON the daemon would send (with a field the typed value lacks).
func fakeObjects(ctx context.Context, ref string) (any, []byte, error) {
	switch ref {
	case "web":
		v := container.InspectResponse{ID: "abc", Name: "/web", State: &container.State{Status: "running", Running: true}}
		return v, []byte(`{"Id":"abc","Name":"/web","State":{"Status":"running","Running":true},"Gantry":{"Shim":42}}`), nil
	case "db":
		v := container.InspectResponse{ID: "def", Name: "/db", State: &container.State{Status: "exited", ExitCode: 3}}
		return v, []byte(`{"Id":"def","Name":"/db","State":{"Status":"exited","ExitCode":3}}`), nil
	}
	return nil, nil, errors.New("Error response from daemon: No such container: " + ref)
}

func TestInspectOutput(t *testing.T) {
	for _, tt := range []struct {
		name, format string
		refs         []string
		stdout, err  string
		status       int
	}{
		{"indented array", "", []string{"web"}, "[\n    {\n        \"Id\": \"abc\",\n        \"Name\": \"/web\",\n        \"State\": {\n            \"Status\": \"running\",\n            \"Running\": true\n        },\n        \"Gantry\": {\n            \"Shim\": 42\n        }\n    }\n]\n", "", 0},
		{"json", "json", []string{"web", "db"}, `[{"Id":"abc","Name":"/web","State":{"Status":"running","Running":true},"Gantry":{"Shim":42}},{"Id":"def","Name":"/db","State":{"Status":"exited","ExitCode":3}}]` + "\n", "", 0},
		{"template", "{{.Name}} {{.State.Status}} {{.State.ExitCode}}", []string{"web", "db"}, "/web running 0\n/db exited 3\n", "", 0},
		{"template on raw JSON", "{{.Gantry.Shim}}", []string{"web"}, "42\n", "", 0},
		{"json function", "{{json .State}}", []string{"db"}, "", "", 0},
		{"missing first", "{{.Name}}", []string{"nope", "db"}, "/db\n", "Error response from daemon: No such container: nope", 1},
		{"nothing found", "", []string{"nope"}, "[]\n", "Error response from daemon: No such container: nope", 1},
		{"nothing found with template", "{{.Name}}", []string{"nope"}, "\n", "Error response from daemon: No such container: nope", 1},
		{"bad template", "{{.Name", []string{"web"}, "", "template parsing error: template: :1: unclosed action", 64},
	} {
		var out bytes.Buffer
		err := inspectAll(context.Background(), &out, "unix:///x", tt.refs, tt.format, fakeObjects)
		status, msg := 0, ""
		var se *statusError
		if errors.As(err, &se) {
			status, msg = se.status, se.line
		} else if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if tt.name == "json function" {
			if !strings.HasPrefix(out.String(), `{"Status":"exited"`) {
				t.Errorf("%s: %q", tt.name, out.String())
			}
			continue
		}
		if out.String() != tt.stdout || status != tt.status || msg != tt.err {
			t.Errorf("%s:\n got %q, %d, %q\nwant %q, %d, %q", tt.name, out.String(), status, msg, tt.stdout, tt.status, tt.err)
		}
	}
}
