package flagvalue

import (
	"encoding/csv"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
)

// GpuOpts is --gpus: "all", a count, or CSV fields
// count=, device=, driver=, capabilities=, options=. Each value is one
// device request.
type GpuOpts struct {
	values []container.DeviceRequest
}

// Set parses one --gpus value. A field without "=" is a count. Fields are
// CSV, so a list-valued field must be quoted: `"device=0,1"`.
func (o *GpuOpts) Set(value string) error {
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return err
	}
	var req container.DeviceRequest
	seen := map[string]bool{}
	for _, field := range fields {
		key, val, hasValue := strings.Cut(field, "=")
		if seen[key] {
			return fmt.Errorf("gpu request key '%s' can be specified only once", key)
		}
		seen[key] = true
		if !hasValue {
			seen["count"] = true
			if req.Count, err = gpuCount(key); err != nil {
				return err
			}
			continue
		}
		switch key {
		case "driver":
			req.Driver = val
		case "count":
			if req.Count, err = gpuCount(val); err != nil {
				return err
			}
		case "device":
			req.DeviceIDs = strings.Split(val, ",")
		case "capabilities":
			// Whatever is asked for, it is a GPU that is asked for.
			req.Capabilities = [][]string{append(strings.Split(val, ","), "gpu")}
		case "options":
			opts, err := csv.NewReader(strings.NewReader(val)).Read()
			if err != nil {
				return fmt.Errorf("failed to read gpu options: %w", err)
			}
			req.Options = ConvertKVStringsToMap(opts)
		default:
			return fmt.Errorf("unexpected key '%s' in '%s'", key, field)
		}
	}
	// Named devices without a count means just those; nothing at all
	// means one GPU.
	if !seen["count"] && req.DeviceIDs == nil {
		req.Count = 1
	}
	if req.Options == nil {
		req.Options = map[string]string{}
	}
	if req.Capabilities == nil {
		req.Capabilities = [][]string{{"gpu"}}
	}
	o.values = append(o.values, req)
	return nil
}

// gpuCount reads a count: "all" is -1.
func gpuCount(s string) (int, error) {
	if s == "all" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		// Docker shows only the reason, not strconv's "parsing ..." prefix.
		var numErr *strconv.NumError
		if errors.As(err, &numErr) {
			err = numErr.Err
		}
		return 0, fmt.Errorf(`invalid count (%s): value must be either "all" or an integer: %w`, s, err)
	}
	return n, nil
}

func (o *GpuOpts) String() string {
	out := make([]string, 0, len(o.values))
	for _, r := range o.values {
		out = append(out, fmt.Sprintf("%v", r))
	}
	return strings.Join(out, ", ")
}

// Type names the value in help output, as docker does.
func (*GpuOpts) Type() string { return "gpu-request" }

// Value returns the device requests.
func (o *GpuOpts) Value() []container.DeviceRequest { return o.values }
