package logger

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		errMsg string // "" = valid
	}{
		{"default driver", Config{}, ""},
		{"json-file", Config{Driver: "json-file"}, ""},
		{"local", Config{Driver: "local"}, ""},
		{"none", Config{Driver: "none"}, ""},
		{"none ignores opts", Config{Driver: "none", Opts: map[string]string{"whatever": "x"}}, ""},
		{"unknown driver", Config{Driver: "syslog"}, `unknown log driver "syslog": gantry supports json-file, local and none`},
		{"json all opts", Config{Opts: map[string]string{
			"max-size": "10m", "max-file": "4", "compress": "true", "labels": "a,b",
			"labels-regex": "^com\\.", "env": "A", "env-regex": "^X", "tag": "{{.Name}}",
		}}, ""},
		{"json unknown opt", Config{Driver: "json-file", Opts: map[string]string{"foo": "1"}}, "unknown log opt 'foo' for json-file log driver"},
		{"unknown opt named in sorted order", Config{Opts: map[string]string{"zz": "1", "aa": "1"}}, "unknown log opt 'aa' for json-file log driver"},
		{"local unknown opt", Config{Driver: "local", Opts: map[string]string{"foo": "1"}}, "unknown log opt 'foo' for log driver local"},
		{"local has no tag", Config{Driver: "local", Opts: map[string]string{"tag": "x"}}, "unknown log opt 'tag' for log driver local"},
		{"local rotation opts", Config{Driver: "local", Opts: map[string]string{"max-size": "1g", "max-file": "2", "compress": "false"}}, ""},
		{"max-size unlimited", Config{Opts: map[string]string{"max-size": "-1"}}, ""},
		{"max-size bytes", Config{Opts: map[string]string{"max-size": "4096"}}, ""},
		{"max-size bad", Config{Opts: map[string]string{"max-size": "lots"}}, "invalid value for max-size: lots: invalid size: 'lots'"},
		{"max-size zero", Config{Opts: map[string]string{"max-size": "0"}}, "max-size must be a positive number"},
		{"max-file bad", Config{Opts: map[string]string{"max-file": "x"}}, `invalid value for max-file: x: strconv.Atoi: parsing "x": invalid syntax`},
		{"max-file zero", Config{Opts: map[string]string{"max-file": "0"}}, "max-file cannot be less than 1"},
		{"max-file one", Config{Opts: map[string]string{"max-file": "1"}}, ""},
		{"compress bad", Config{Opts: map[string]string{"compress": "maybe"}}, `invalid boolean value for compress: strconv.ParseBool: parsing "maybe": invalid syntax`},
		{"compress one file", Config{Opts: map[string]string{"compress": "true", "max-file": "1"}}, "compress cannot be true when max-file is less than 2 or max-size is not set"},
		{"compress unlimited", Config{Opts: map[string]string{"compress": "true", "max-size": "-1"}}, "compress cannot be true when max-file is less than 2 or max-size is not set"},
		{"local one file", Config{Driver: "local", Opts: map[string]string{"max-file": "1"}}, ""},
		{"bad regex", Config{Opts: map[string]string{"env-regex": "("}}, "invalid value for env-regex: error parsing regexp: missing closing ): `(`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.cfg)
			if tc.errMsg == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tc.errMsg {
				t.Fatalf("Validate = %v, want %q", err, tc.errMsg)
			}
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("error %v is not errdefs.ErrInvalid", err)
			}
		})
	}
}

func TestParseConfigDefaults(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want options
	}{
		{Config{}, options{driver: JSONFile, maxSize: 20 << 20, maxFile: 3}},
		{Config{Driver: Local}, options{driver: Local, maxSize: 20 << 20, maxFile: 5, compress: true}},
		{Config{Driver: Local, Opts: map[string]string{"max-file": "1"}}, options{driver: Local, maxSize: 20 << 20, maxFile: 1}},
		{Config{Opts: map[string]string{"max-size": "1k", "max-file": "7", "compress": "1"}}, options{driver: JSONFile, maxSize: 1024, maxFile: 7, compress: true}},
		{Config{Opts: map[string]string{"max-size": "-1"}}, options{driver: JSONFile, maxSize: -1, maxFile: 3}},
		{Config{Driver: None}, options{driver: None}},
	} {
		got, err := parseConfig(tc.cfg)
		if err != nil {
			t.Fatalf("parseConfig(%+v): %v", tc.cfg, err)
		}
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(options{})); diff != "" {
			t.Errorf("parseConfig(%+v) (-want +got):\n%s", tc.cfg, diff)
		}
	}
}

func TestPath(t *testing.T) {
	for _, tc := range []struct {
		driver, want string
	}{
		{"", "/c/abc-json.log"},
		{"json-file", "/c/abc-json.log"},
		{"local", "/c/container.log"},
		{"none", ""},
	} {
		if got := Path("/c", "abc", Config{Driver: tc.driver}); got != tc.want {
			t.Errorf("Path(%q) = %q, want %q", tc.driver, got, tc.want)
		}
	}
}

func TestExtraAttrs(t *testing.T) {
	labels := map[string]string{"com.example.a": "1", "com.example.b": "2", "other": "3"}
	env := []string{"A=x", "B=y=z", "NOVALUE", "XA=1"}
	cfg := Config{Opts: map[string]string{"labels": "other,missing", "labels-regex": `^com\.example\.b$`, "env": "B,NOVALUE", "env-regex": "^X"}}
	got, err := ExtraAttrs(cfg, labels, env)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"other": "3", "com.example.b": "2", "B": "y=z", "XA": "1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ExtraAttrs (-want +got):\n%s", diff)
	}
}
