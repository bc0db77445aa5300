package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/moby/moby/api/types/events"
)

// EventsOptions select events: Since and Until take what `docker events`
// takes (a duration ago, an RFC 3339 time or date, Unix seconds).
type EventsOptions struct {
	Since, Until string
	Filters      Filters
}

// Events is GET /events: fn is called with each event until the stream
// ends (Until reached), ctx ends or fn returns an error.
func (c *Client) Events(ctx context.Context, o EventsOptions, fn func(events.Message) error) error {
	query := url.Values{}
	now := time.Now()
	if o.Since != "" {
		ts, err := apiTimestamp(o.Since, now)
		if err != nil {
			return err
		}
		query.Set("since", ts)
	}
	if o.Until != "" {
		ts, err := apiTimestamp(o.Until, now)
		if err != nil {
			return err
		}
		query.Set("until", ts)
	}
	o.Filters.setQuery(query)
	resp, err := c.get(ctx, "/events", query)
	if err != nil {
		return err
	}
	defer closeBody(resp)
	dec := json.NewDecoder(resp.Body)
	for {
		var m events.Message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("reading events: %w", err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
}
