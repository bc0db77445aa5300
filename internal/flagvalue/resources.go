package flagvalue

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
)

// MemBytes is a size flag such as -m 512m, read as go-units reads RAM
// sizes (binary multiples; "invalid size: 'x'" on error).
type MemBytes int64

// Set parses value; on error the flag is left at 0 as docker leaves it.
func (m *MemBytes) Set(value string) error {
	n, err := units.RAMInBytes(value)
	*m = MemBytes(n)
	return err
}

// String gives "0" for zero because pflag hides a "0" default in help,
// where "0 B" would print a misleading "(default 0 B)".
func (m *MemBytes) String() string {
	if *m == 0 {
		return "0"
	}
	return units.BytesSize(float64(*m))
}

// Type names the value in help output, as docker does.
func (*MemBytes) Type() string { return "bytes" }

// Value is the size in bytes.
func (m *MemBytes) Value() int64 { return int64(*m) }

// UnmarshalJSON reads a size given as a JSON string, as in "512m".
func (m *MemBytes) UnmarshalJSON(b []byte) error {
	if len(b) <= 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("invalid size: %q", b)
	}
	return m.Set(string(b[1 : len(b)-1]))
}

// MemSwapBytes is MemBytes that also takes -1, meaning unlimited swap.
type MemSwapBytes int64

// Set parses value; "-1" is let through before the size parser, which
// refuses negative sizes.
func (m *MemSwapBytes) Set(value string) error {
	if value == "-1" {
		*m = -1
		return nil
	}
	n, err := units.RAMInBytes(value)
	*m = MemSwapBytes(n)
	return err
}

func (m *MemSwapBytes) String() string {
	b := MemBytes(*m)
	return b.String()
}

// Type names the value in help output, as docker does.
func (*MemSwapBytes) Type() string { return "bytes" }

// Value is the size in bytes, or -1.
func (m *MemSwapBytes) Value() int64 { return int64(*m) }

// UnmarshalJSON reads a size given as a JSON string. Like docker's, it
// checks the text without storing it.
func (m *MemSwapBytes) UnmarshalJSON(b []byte) error {
	tmp := MemBytes(*m)
	return tmp.UnmarshalJSON(b)
}

// NanoCPUs is --cpus: a decimal number of CPUs kept in billionths.
type NanoCPUs int64

// Set parses value; the flag takes the result even on error, as docker's.
func (c *NanoCPUs) Set(value string) error {
	n, err := ParseCPUs(value)
	*c = NanoCPUs(n)
	return err
}

// String shows three decimals, or nothing for zero so help shows no default.
func (c *NanoCPUs) String() string {
	if *c == 0 {
		return ""
	}
	return big.NewRat(int64(*c), 1e9).FloatString(3)
}

// Type names the value in help output, as docker does.
func (*NanoCPUs) Type() string { return "decimal" }

// Value is the number of billionths of a CPU.
func (c *NanoCPUs) Value() int64 { return int64(*c) }

// ParseCPUs reads a decimal or fraction ("1.5", "3/2") exactly, with a
// rational rather than a float, so that "0.1" is 100000000 and nothing
// finer than a billionth slips through rounded.
func ParseCPUs(value string) (int64, error) {
	r, ok := new(big.Rat).SetString(value)
	if !ok {
		return 0, fmt.Errorf("failed to parse %v as a rational number", value)
	}
	r.Mul(r, big.NewRat(1e9, 1))
	if !r.IsInt() {
		return 0, errors.New("value is too precise")
	}
	return r.Num().Int64(), nil
}

// UlimitOpt is --ulimit `name=soft[:hard]`; a later value for a name
// replaces the earlier one.
type UlimitOpt struct {
	values *map[string]*container.Ulimit
}

// NewUlimitOpt returns a flag that fills *ref (a new map when nil).
func NewUlimitOpt(ref *map[string]*container.Ulimit) *UlimitOpt {
	if ref == nil {
		ref = &map[string]*container.Ulimit{}
	}
	return &UlimitOpt{values: ref}
}

// Set parses val with go-units, which also checks the name and soft <= hard.
func (o *UlimitOpt) Set(val string) error {
	l, err := units.ParseUlimit(val)
	if err != nil {
		return err
	}
	(*o.values)[l.Name] = l
	return nil
}

func (o *UlimitOpt) String() string {
	out := make([]string, 0, len(*o.values))
	for _, l := range *o.values {
		out = append(out, l.String())
	}
	slices.Sort(out)
	return fmt.Sprintf("%v", out)
}

// Type names the value in help output, as docker does.
func (*UlimitOpt) Type() string { return "ulimit" }

// GetList returns the limits sorted by name, so requests are stable.
func (o *UlimitOpt) GetList() []*container.Ulimit {
	out := make([]*container.Ulimit, 0, len(*o.values))
	for _, l := range *o.values {
		out = append(out, l)
	}
	slices.SortStableFunc(out, func(a, b *container.Ulimit) int { return strings.Compare(a.Name, b.Name) })
	return out
}
