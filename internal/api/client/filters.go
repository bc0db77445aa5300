package client

import (
	"encoding/json"
	"net/url"
)

// Filters is a list filter as the API takes it: {"term":{"value":true}}.
type Filters map[string]map[string]bool

// Add adds values to term and returns f.
func (f Filters) Add(term string, values ...string) Filters {
	if f[term] == nil {
		f[term] = make(map[string]bool)
	}
	for _, v := range values {
		f[term][v] = true
	}
	return f
}

// setQuery puts f in query's "filters" (none when f is empty).
func (f Filters) setQuery(query url.Values) {
	if len(f) == 0 {
		return
	}
	b, _ := json.Marshal(f) // a map of maps of bools always marshals
	query.Set("filters", string(b))
}
