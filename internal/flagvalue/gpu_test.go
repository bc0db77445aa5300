package flagvalue

import (
	"reflect"
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestGpuOpts(t *testing.T) {
	gpu := [][]string{{"gpu"}}
	for _, c := range []struct {
		in   string
		want container.DeviceRequest
	}{
		{"all", container.DeviceRequest{Count: -1, Capabilities: gpu, Options: map[string]string{}}},
		{"2", container.DeviceRequest{Count: 2, Capabilities: gpu, Options: map[string]string{}}},
		{"driver=nvidia", container.DeviceRequest{Driver: "nvidia", Count: 1, Capabilities: gpu, Options: map[string]string{}}},
		{`"device=0,1"`, container.DeviceRequest{DeviceIDs: []string{"0", "1"}, Capabilities: gpu, Options: map[string]string{}}},
		{`count=all,"capabilities=compute,utility"`, container.DeviceRequest{Count: -1, Capabilities: [][]string{{"compute", "utility", "gpu"}}, Options: map[string]string{}}},
		{`"options=a=b,c"`, container.DeviceRequest{Count: 1, Capabilities: gpu, Options: map[string]string{"a": "b", "c": ""}}},
	} {
		var o GpuOpts
		if err := o.Set(c.in); err != nil {
			t.Errorf("Set(%q): %v", c.in, err)
			continue
		}
		if got := o.Value(); len(got) != 1 || !reflect.DeepEqual(got[0], c.want) {
			t.Errorf("Set(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
	for in, want := range map[string]string{
		"lots":                       `invalid count (lots): value must be either "all" or an integer: invalid syntax`,
		"count=99999999999999999999": `invalid count (99999999999999999999): value must be either "all" or an integer: value out of range`,
		"count=1,count=2":            "gpu request key 'count' can be specified only once",
		"1,count=2":                  "gpu request key 'count' can be specified only once",
		"foo=bar":                    "unexpected key 'foo' in 'foo=bar'",
		`"options=a"b"`:              `parse error on line 1, column 11: extraneous or missing " in quoted-field`,
	} {
		var o GpuOpts
		if err := o.Set(in); errText(err) != want {
			t.Errorf("Set(%q) = %v, want %q", in, err, want)
		}
	}
}
