package flagvalue

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/spf13/pflag"
)

// The values are used through pflag; this keeps them satisfying it.
var (
	_ pflag.Value = (*ListOpts)(nil)
	_ pflag.Value = (*MapOpts)(nil)
	_ pflag.Value = (*UlimitOpt)(nil)
	_ pflag.Value = (*MemBytes)(nil)
	_ pflag.Value = (*MemSwapBytes)(nil)
	_ pflag.Value = (*NanoCPUs)(nil)
	_ pflag.Value = (*MountOpt)(nil)
	_ pflag.Value = (*GpuOpts)(nil)
	_ pflag.Value = (*NetworkOpt)(nil)
	_ pflag.Value = (*FilterOpt)(nil)
)

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestListOpts(t *testing.T) {
	l := NewListOpts(ValidateIPAddress)
	if l.String() != "" || l.GetAllOrEmpty() == nil || l.GetSlice() != nil {
		t.Fatalf("empty list: %q %v %v", l.String(), l.GetAllOrEmpty(), l.GetSlice())
	}
	for _, v := range []string{"1.2.3.4", " ::1"} {
		if err := l.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Set("x"); errText(err) != "IP address is not correctly formatted: x" {
		t.Fatalf("Set(x) = %v", err)
	}
	if got := l.GetSlice(); !reflect.DeepEqual(got, []string{"1.2.3.4", "::1"}) {
		t.Fatalf("GetSlice = %q", got)
	}
	if l.String() != "[1.2.3.4 ::1]" || l.Len() != 2 || !l.Get("::1") || l.Get(" ::1") {
		t.Fatalf("String %q Len %d", l.String(), l.Len())
	}
}

func TestMapOpts(t *testing.T) {
	m := NewMapOpts(nil, ValidateSysctl)
	for _, v := range []string{"net.a=1", "net.b=2", "net.a=3"} {
		if err := m.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Set("vm.x=1"); errText(err) != "sysctl 'vm.x=1' is not allowed" {
		t.Fatalf("Set = %v", err)
	}
	if got := m.GetAll(); !reflect.DeepEqual(got, map[string]string{"net.a": "3", "net.b": "2"}) {
		t.Fatalf("GetAll = %v", got)
	}
	plain := NewMapOpts(nil, nil)
	_ = plain.Set("k")
	if plain.String() != "map[k:]" {
		t.Fatalf("String = %q", plain.String())
	}
}

func TestMemBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		err  string
		str  string
	}{
		{in: "512m", want: 512 << 20, str: "512MiB"},
		{in: "1g", want: 1 << 30, str: "1GiB"},
		{in: "0", want: 0, str: "0"},
		// go-units answers -1 on error and docker stores it; pflag stops
		// at the error anyway.
		{in: "lots", want: -1, err: "invalid size: 'lots'", str: "-1B"},
		{in: "-1", want: -1, err: "invalid size: '-1'", str: "-1B"},
	} {
		var m MemBytes
		err := m.Set(c.in)
		if errText(err) != c.err || m.Value() != c.want || m.String() != c.str {
			t.Errorf("MemBytes.Set(%q): %d %q %v", c.in, m.Value(), m.String(), err)
		}
	}
	var s MemSwapBytes
	if err := s.Set("-1"); err != nil || s.Value() != -1 {
		t.Errorf("MemSwapBytes -1: %d %v", s.Value(), err)
	}
	if err := s.Set("-2"); errText(err) != "invalid size: '-2'" {
		t.Errorf("MemSwapBytes -2: %v", err)
	}
	if err := s.Set("1g"); err != nil || s.Value() != 1<<30 {
		t.Errorf("MemSwapBytes 1g: %d %v", s.Value(), err)
	}
	var j MemBytes
	if err := j.UnmarshalJSON([]byte(`"2m"`)); err != nil || j != 2<<20 {
		t.Errorf("UnmarshalJSON: %d %v", j, err)
	}
	if err := j.UnmarshalJSON([]byte(`2`)); errText(err) != `invalid size: "2"` {
		t.Errorf("UnmarshalJSON bare: %v", err)
	}
}

func TestNanoCPUs(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		err  string
		str  string
	}{
		{in: "1.5", want: 1500000000, str: "1.500"},
		{in: "3/2", want: 1500000000, str: "1.500"},
		{in: "0.000000001", want: 1, str: "0.000"},
		{in: "0", want: 0, str: ""},
		{in: "0.0000000001", err: "value is too precise"},
		{in: "abc", err: "failed to parse abc as a rational number"},
	} {
		var n NanoCPUs
		err := n.Set(c.in)
		if errText(err) != c.err || n.Value() != c.want || (c.err == "" && n.String() != c.str) {
			t.Errorf("NanoCPUs.Set(%q): %d %q %v", c.in, n.Value(), n.String(), err)
		}
	}
}

func TestUlimitOpt(t *testing.T) {
	ref := map[string]*container.Ulimit{}
	u := NewUlimitOpt(&ref)
	for _, v := range []string{"nproc=10", "nofile=1024:2048", "nofile=512"} {
		if err := u.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	got := u.GetList()
	if len(got) != 2 || got[0].Name != "nofile" || got[0].Soft != 512 || got[0].Hard != 512 || got[1].Name != "nproc" || len(ref) != 2 {
		t.Fatalf("GetList = %v", got)
	}
	if u.String() != "[nofile=512:512 nproc=10:10]" {
		t.Fatalf("String = %q", u.String())
	}
	for in, want := range map[string]string{
		"bad=1":            "invalid ulimit type: bad",
		"nofile=2048:1024": "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024",
		"nofile":           "invalid ulimit argument: nofile",
	} {
		if err := u.Set(in); errText(err) != want {
			t.Errorf("Set(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestFilterOpt(t *testing.T) {
	f := NewFilterOpt()
	for _, v := range []string{"status=running", " Label = a=b ", "status=exited", ""} {
		if err := f.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]map[string]bool{"status": {"running": true, "exited": true}, "label": {"a=b": true}}
	if !reflect.DeepEqual(f.Value(), want) {
		t.Fatalf("Value = %v", f.Value())
	}
	if f.String() != `{"label":{"a=b":true},"status":{"exited":true,"running":true}}` {
		t.Fatalf("String = %s", f.String())
	}
	if err := f.Set("running"); errText(err) != "bad format of filter (expected name=value)" {
		t.Fatalf("Set = %v", err)
	}
}

func TestParseRestartPolicy(t *testing.T) {
	for _, c := range []struct {
		in   string
		want container.RestartPolicy
		err  string
	}{
		{in: ""},
		{in: "always", want: container.RestartPolicy{Name: "always"}},
		{in: "on-failure:3", want: container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}},
		{in: "on-failure:", want: container.RestartPolicy{Name: "on-failure"}},
		{in: "bogus:-1", want: container.RestartPolicy{Name: "bogus", MaximumRetryCount: -1}},
		{in: ":3", err: "invalid restart policy format: no policy provided before colon"},
		{in: "always:x", err: "invalid restart policy format: maximum retry count must be an integer"},
	} {
		got, err := ParseRestartPolicy(c.in)
		if errText(err) != c.err || got != c.want {
			t.Errorf("ParseRestartPolicy(%q) = %+v, %v", c.in, got, err)
		}
	}
}

func TestReadKVStrings(t *testing.T) {
	t.Setenv("FLAGVALUE_SET", "from-env")
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "\uFEFFA=1\n  # comment\n\n\tB= \"x\" \nFLAGVALUE_SET\nFLAGVALUE_UNSET_X\n")
	env, err := ReadKVEnvStrings([]string{good}, []string{"A=2"})
	if want := []string{"A=1", `B= "x" `, "FLAGVALUE_SET=from-env", "A=2"}; err != nil || !reflect.DeepEqual(env, want) {
		t.Errorf("ReadKVEnvStrings = %q, %v; want %q", env, err, want)
	}
	labels, err := ReadKVStrings([]string{good}, nil)
	if want := []string{"A=1", `B= "x" `}; err != nil || !reflect.DeepEqual(labels, want) {
		t.Errorf("ReadKVStrings = %q, %v; want %q", labels, err, want)
	}
	if got, err := ReadKVStrings(nil, nil); got != nil || err != nil {
		t.Errorf("ReadKVStrings(nil, nil) = %q, %v", got, err)
	}
	for body, want := range map[string]string{
		"bad key=1\n": "variable 'bad key' contains whitespaces",
		"=x\n":        "no variable name on line '=x'",
		"ok=\xff\n":   "invalid utf8 bytes at line 1: [111 107 61 255]",
	} {
		p := write("bad", body)
		if _, err := ReadKVEnvStrings([]string{p}, nil); errText(err) != "invalid env file ("+p+"): "+want {
			t.Errorf("%q: %v", body, err)
		}
	}
	missing := filepath.Join(dir, "missing")
	if _, err := ReadKVStrings([]string{missing}, nil); errText(err) != "open "+missing+": no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
}

func TestConvertKVStringsToMap(t *testing.T) {
	got := ConvertKVStringsToMap([]string{"a=1", "b", "c=x=y", "a=2"})
	if want := map[string]string{"a": "2", "b": "", "c": "x=y"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}
