package server

import (
	"strconv"

	"github.com/moby/moby/api/types/events"
	mobyimage "github.com/moby/moby/api/types/image"

	engineevents "github.com/gantry-dev/gantry/internal/engine/events"
)

// imageEvents publishes image actions in Docker's shape: pull and push
// name the reference, the others the image ID, with the name among the
// attributes.
type imageEvents struct{ bus *engineevents.Bus }

func (e imageEvents) publish(action events.Action, id, name string) {
	if e.bus == nil {
		return
	}
	e.bus.Publish(events.ImageEventType, action, id, map[string]string{"name": name})
}

// removed publishes what removing image id did, as Docker does: an untag
// per name taken off and a delete per image deleted, each naming the
// image ID.
func (e imageEvents) removed(id string, resp []mobyimage.DeleteResponse) {
	for _, r := range resp {
		switch {
		case r.Untagged != "" && id != "":
			e.publish(events.ActionUnTag, id, id)
		case r.Deleted != "":
			e.publish(events.ActionDelete, r.Deleted, r.Deleted)
		}
	}
}

func (e imageEvents) pruned(resp []mobyimage.DeleteResponse, reclaimed int64) {
	for _, r := range resp {
		if r.Deleted != "" {
			e.publish(events.ActionDelete, r.Deleted, r.Deleted)
		}
	}
	if e.bus != nil {
		e.bus.Publish(events.ImageEventType, events.ActionPrune, "", map[string]string{"reclaimed": strconv.FormatInt(reclaimed, 10)})
	}
}
