package flagvalue

import (
	"fmt"
	"slices"
	"strings"
)

// Validator checks one flag value and returns it, possibly normalised
// (ValidateIPAddress canonicalises, ValidateEnv fills in a value from the
// environment). A non-nil error refuses the value; pflag then reports it as
// `invalid argument "<value>" for "<flag>" flag: <error>`.
type Validator func(val string) (string, error)

// ListOpts is a repeatable flag that keeps every value, in order.
type ListOpts struct {
	values   *[]string
	validate Validator
}

// NewListOpts returns an empty list; validate may be nil to accept anything.
func NewListOpts(validate Validator) ListOpts {
	return ListOpts{values: new([]string), validate: validate}
}

// Set validates value and appends it.
func (l *ListOpts) Set(value string) error {
	if l.validate != nil {
		v, err := l.validate(value)
		if err != nil {
			return err
		}
		value = v
	}
	*l.values = append(*l.values, value)
	return nil
}

// String is empty for an empty list so that help shows no default.
func (l *ListOpts) String() string {
	if len(*l.values) == 0 {
		return ""
	}
	return fmt.Sprintf("%v", *l.values)
}

// Type names the value in help output, as docker does.
func (*ListOpts) Type() string { return "list" }

// GetSlice returns the values. It also makes ListOpts a cobra.SliceValue,
// so completion can offer the flag again.
func (l *ListOpts) GetSlice() []string { return *l.values }

// GetAll returns the values; an alias kept for callers written that way.
func (l *ListOpts) GetAll() []string { return *l.values }

// GetAllOrEmpty is GetSlice but never nil, for JSON fields that must be [].
func (l *ListOpts) GetAllOrEmpty() []string {
	if *l.values == nil {
		return []string{}
	}
	return *l.values
}

// GetMap returns the values as a set.
func (l *ListOpts) GetMap() map[string]struct{} {
	set := make(map[string]struct{}, len(*l.values))
	for _, v := range *l.values {
		set[v] = struct{}{}
	}
	return set
}

// Get reports whether value was given.
func (l *ListOpts) Get(value string) bool { return slices.Contains(*l.values, value) }

// Len is the number of values given.
func (l *ListOpts) Len() int { return len(*l.values) }

// MapOpts is a repeatable `key=value` flag; a later key replaces an
// earlier one, and a value without "=" sets the key to "".
type MapOpts struct {
	values   map[string]string
	validate Validator
}

// NewMapOpts returns a map flag that fills values (a new map when nil);
// validate may be nil.
func NewMapOpts(values map[string]string, validate Validator) *MapOpts {
	if values == nil {
		values = map[string]string{}
	}
	return &MapOpts{values: values, validate: validate}
}

// Set validates value and stores it under its key.
func (m *MapOpts) Set(value string) error {
	if m.validate != nil {
		v, err := m.validate(value)
		if err != nil {
			return err
		}
		value = v
	}
	k, v, _ := strings.Cut(value, "=")
	m.values[k] = v
	return nil
}

// GetAll returns the map.
func (m *MapOpts) GetAll() map[string]string { return m.values }

func (m *MapOpts) String() string { return fmt.Sprintf("%v", m.values) }

// Type names the value in help output, as docker does.
func (*MapOpts) Type() string { return "map" }
