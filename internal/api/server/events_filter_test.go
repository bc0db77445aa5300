package server

import (
	"testing"

	eventtypes "github.com/moby/moby/api/types/events"
)

// Docker's event filters: container/volume/network by ID or name prefix
// whatever the event's type, image by ID or name with or without a tag,
// type, event (with "exec_start: sh" matching "exec_start"), label.
func TestMatchEvent(t *testing.T) {
	ctr := eventtypes.Message{Type: eventtypes.ContainerEventType, Action: "start", Actor: eventtypes.Actor{
		ID: "abcdef123456", Attributes: map[string]string{"name": "web", "image": "busybox:1.36", "team": "a"}}}
	exec := ctr
	exec.Action = "exec_start: sh -c true"
	img := eventtypes.Message{Type: eventtypes.ImageEventType, Action: "tag", Actor: eventtypes.Actor{
		ID: "sha256:0123", Attributes: map[string]string{"name": "busybox:latest"}}}
	for _, c := range []struct {
		m      eventtypes.Message
		f      map[string][]string
		expect bool
	}{
		{ctr, nil, true},
		{ctr, map[string][]string{"container": {"abc"}}, true},
		{ctr, map[string][]string{"container": {"we"}}, true},
		{ctr, map[string][]string{"container": {"db"}}, false},
		{img, map[string][]string{"container": {"web"}}, false},
		{ctr, map[string][]string{"image": {"busybox"}}, true},
		{ctr, map[string][]string{"image": {"busybox:1.36"}}, true},
		{ctr, map[string][]string{"image": {"alpine"}}, false},
		{img, map[string][]string{"image": {"busybox"}}, true},
		{img, map[string][]string{"image": {"sha256:0123"}}, true},
		{img, map[string][]string{"image": {"sha256"}}, false},
		{ctr, map[string][]string{"type": {"image"}}, false},
		{img, map[string][]string{"type": {"image", "container"}}, true},
		{exec, map[string][]string{"event": {"exec_start"}}, true},
		{ctr, map[string][]string{"event": {"stop"}}, false},
		{ctr, map[string][]string{"label": {"team=a"}}, true},
		{ctr, map[string][]string{"label": {"team=b"}}, false},
		{ctr, map[string][]string{"label": {"team"}}, true},
		{ctr, map[string][]string{"volume": {"data"}}, false},
		{ctr, map[string][]string{"scope": {"local"}}, true},
		{ctr, map[string][]string{"scope": {"swarm"}}, false},
	} {
		if got := matchEvent(c.m, c.f); got != c.expect {
			t.Errorf("%s %s with %v: %v, want %v", c.m.Type, c.m.Action, c.f, got, c.expect)
		}
	}
}
