package flagvalue

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// NetworkAttachmentOpts is one --network: the network and the endpoint
// settings given with it in the long form.
type NetworkAttachmentOpts struct {
	Target       string
	Aliases      []string
	DriverOpts   map[string]string
	Links        []string // no long-form field sets these; the CLI fills them from --link
	IPv4Address  netip.Addr
	IPv6Address  netip.Addr
	LinkLocalIPs []netip.Addr
	MacAddress   string
	GwPriority   int
}

// NetworkOpt is a repeatable --network: a bare name or mode ("bridge",
// "container:x"), or CSV `name=...,alias=...,ip=...`.
type NetworkOpt struct {
	options []NetworkAttachmentOpts
}

// Set parses one --network value.
func (n *NetworkOpt) Set(value string) error {
	if !looksLikeLongSyntax(value) {
		n.options = append(n.options, NetworkAttachmentOpts{Target: value})
		return nil
	}
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return err
	}
	opt := NetworkAttachmentOpts{Aliases: []string{}}
	for _, field := range fields {
		// Docker lower-cases the whole field, values included.
		key, val, ok := strings.Cut(strings.ToLower(field), "=")
		if !ok || key == "" {
			return fmt.Errorf("invalid field %s", field)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "name":
			opt.Target = val
		case "alias":
			opt.Aliases = append(opt.Aliases, val)
		case "ip":
			if opt.IPv4Address, err = netip.ParseAddr(val); err != nil {
				return err
			}
		case "ip6":
			if opt.IPv6Address, err = netip.ParseAddr(val); err != nil {
				return err
			}
		case "mac-address":
			opt.MacAddress = val
		case "link-local-ip":
			a, err := netip.ParseAddr(val)
			if err != nil {
				return err
			}
			opt.LinkLocalIPs = append(opt.LinkLocalIPs, a)
		case "driver-opt":
			k, v, ok := strings.Cut(val, "=")
			if !ok || k == "" {
				return errors.New("invalid key value pair format in driver options")
			}
			if opt.DriverOpts == nil {
				opt.DriverOpts = map[string]string{}
			}
			opt.DriverOpts[strings.TrimSpace(k)] = strings.TrimSpace(v)
		case "gw-priority":
			if opt.GwPriority, err = strconv.Atoi(val); err != nil {
				var numErr *strconv.NumError
				if errors.As(err, &numErr) {
					err = numErr.Err
				}
				return fmt.Errorf("invalid gw-priority (%s): %w", val, err)
			}
		default:
			return errors.New("invalid field key " + key)
		}
	}
	if opt.Target == "" {
		return errors.New("network name/id is not specified")
	}
	n.options = append(n.options, opt)
	return nil
}

// looksLikeLongSyntax is docker's test for the CSV form: somewhere in the
// value a "=" has a word character (ASCII letter, digit or _) on both
// sides. Docker asks an unanchored regular expression; this is the same
// test without compiling one.
func looksLikeLongSyntax(value string) bool {
	for i := 1; i+1 < len(value); i++ {
		if value[i] == '=' && isWordByte(value[i-1]) && isWordByte(value[i+1]) {
			return true
		}
	}
	return false
}

func isWordByte(b byte) bool {
	return b == '_' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

// Type names the value in help output, as docker does.
func (*NetworkOpt) Type() string { return "network" }

// Value returns the networks in the order given.
func (n *NetworkOpt) Value() []NetworkAttachmentOpts { return n.options }

// String is empty so that help shows no default.
func (*NetworkOpt) String() string { return "" }

// NetworkMode is the first network's name, or "default".
func (n *NetworkOpt) NetworkMode() string {
	if len(n.options) > 0 {
		return n.options[0].Target
	}
	return "default"
}
