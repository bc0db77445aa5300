package flagvalue

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/blkiodev"
)

// ThrottleDeviceOpt is --device-read-bps and friends: repeatable
// `/dev/path:rate` values, checked with the docker CLI's words.
type ThrottleDeviceOpt struct {
	values []*blkiodev.ThrottleDevice
	iops   bool // a plain count, not a size with a unit
}

// NewThrottleDeviceOpt makes a bytes-per-second (iops false) or
// operations-per-second list.
func NewThrottleDeviceOpt(iops bool) ThrottleDeviceOpt { return ThrottleDeviceOpt{iops: iops} }

func (o *ThrottleDeviceOpt) Set(val string) error {
	path, rateText, ok := strings.Cut(val, ":")
	if !ok || path == "" {
		return fmt.Errorf("bad format: %s", val)
	}
	if !strings.HasPrefix(path, "/dev/") {
		return fmt.Errorf("bad format for device path: %s", val)
	}
	var rate uint64
	if o.iops {
		n, err := strconv.ParseUint(rateText, 10, 64)
		if err != nil {
			return fmt.Errorf("invalid rate for device: %s. The correct format is <device-path>:<number>. Number must be a positive integer", val)
		}
		rate = n
	} else {
		n, err := units.RAMInBytes(rateText)
		if err != nil || n < 0 {
			return fmt.Errorf("invalid rate for device: %s. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb", val)
		}
		rate = uint64(n)
	}
	o.values = append(o.values, &blkiodev.ThrottleDevice{Path: path, Rate: rate})
	return nil
}

func (o *ThrottleDeviceOpt) String() string {
	var out []string
	for _, v := range o.values {
		out = append(out, v.String())
	}
	if len(out) == 0 {
		return ""
	}
	return fmt.Sprintf("%v", out)
}

func (*ThrottleDeviceOpt) Type() string { return "list" }

// GetList returns the devices and rates.
func (o *ThrottleDeviceOpt) GetList() []*blkiodev.ThrottleDevice { return o.values }

// WeightDeviceOpt is --blkio-weight-device: repeatable `/dev/path:weight`.
type WeightDeviceOpt struct {
	values []*blkiodev.WeightDevice
}

func (o *WeightDeviceOpt) Set(val string) error {
	path, w, ok := strings.Cut(val, ":")
	if !ok || path == "" {
		return fmt.Errorf("bad format: %s", val)
	}
	if !strings.HasPrefix(path, "/dev/") {
		return fmt.Errorf("bad format for device path: %s", val)
	}
	weight, err := strconv.ParseUint(w, 10, 16)
	if err != nil || weight > 0 && (weight < 10 || weight > 1000) {
		return fmt.Errorf("invalid weight for device: %s", val)
	}
	o.values = append(o.values, &blkiodev.WeightDevice{Path: path, Weight: uint16(weight)})
	return nil
}

func (o *WeightDeviceOpt) String() string {
	if len(o.values) == 0 {
		return ""
	}
	var out []string
	for _, v := range o.values {
		out = append(out, v.String())
	}
	return fmt.Sprintf("%v", out)
}

func (*WeightDeviceOpt) Type() string { return "list" }

// GetList returns the devices and weights.
func (o *WeightDeviceOpt) GetList() []*blkiodev.WeightDevice { return o.values }
