// Package events is the engine's event bus: services publish what happened
// (container create, start, die, ...), the API streams it to `events`
// clients, and recent events are kept for `--since`.
package events

import (
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
)

// keep is how many past events a late subscriber can ask for: as many as
// Docker keeps, and a bounded share of an idle daemon's memory.
const keep = 256

// Bus fans events out to subscribers.
type Bus struct {
	mu     sync.Mutex
	recent []events.Message
	subs   map[chan events.Message]struct{}
}

// New returns an empty bus.
func New() *Bus { return &Bus{subs: map[chan events.Message]struct{}{}} }

// Publish records m (stamped now) and hands it to every subscriber. A
// subscriber that does not keep up loses events rather than stall the
// engine.
func (b *Bus) Publish(typ events.Type, action events.Action, id string, attrs map[string]string) {
	now := time.Now()
	m := events.Message{
		Type:     typ,
		Action:   action,
		Actor:    events.Actor{ID: id, Attributes: attrs},
		Scope:    "local",
		Time:     now.Unix(),
		TimeNano: now.UnixNano(),
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.recent) >= keep {
		b.recent = append(b.recent[:0], b.recent[len(b.recent)-keep/2:]...)
	}
	b.recent = append(b.recent, m)
	for ch := range b.subs {
		select {
		case ch <- m:
		default:
		}
	}
}

// Subscribe returns the recorded events since the given time and a channel
// of the ones to come; cancel ends the subscription.
func (b *Bus) Subscribe(since time.Time) (past []events.Message, ch <-chan events.Message, cancel func()) {
	c := make(chan events.Message, 256)
	b.mu.Lock()
	defer b.mu.Unlock()
	if !since.IsZero() {
		for _, m := range b.recent {
			if m.TimeNano >= since.UnixNano() {
				past = append(past, m)
			}
		}
	}
	b.subs[c] = struct{}{}
	return past, c, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.subs, c)
	}
}
