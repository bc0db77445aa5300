package flagvalue

import (
	"encoding/json"
	"errors"
	"strings"
)

// FilterOpt is a repeatable --filter `name=value`. Values accumulate per
// name in the API's filter shape, {"name": {"value": true}}, which converts
// directly to the API client's Filters type.
type FilterOpt struct {
	filter map[string]map[string]bool
}

// NewFilterOpt returns an empty filter.
func NewFilterOpt() FilterOpt {
	return FilterOpt{filter: map[string]map[string]bool{}}
}

// Set adds one `name=value`. The name is lower-cased and both sides are
// trimmed, as docker does; an empty value is ignored.
func (o *FilterOpt) Set(value string) error {
	if value == "" {
		return nil
	}
	name, val, ok := strings.Cut(value, "=")
	if !ok {
		return errors.New("bad format of filter (expected name=value)")
	}
	name = strings.ToLower(strings.TrimSpace(name))
	if o.filter == nil {
		o.filter = map[string]map[string]bool{}
	}
	if o.filter[name] == nil {
		o.filter[name] = map[string]bool{}
	}
	o.filter[name][strings.TrimSpace(val)] = true
	return nil
}

// String is the filter as the API's JSON, empty when there is none.
func (o *FilterOpt) String() string {
	if o == nil || len(o.filter) == 0 {
		return ""
	}
	b, err := json.Marshal(o.filter)
	if err != nil {
		return "invalid filters"
	}
	return string(b)
}

// Type names the value in help output, as docker does.
func (*FilterOpt) Type() string { return "filter" }

// Value returns the filter terms: name -> set of values.
func (o *FilterOpt) Value() map[string]map[string]bool { return o.filter }
