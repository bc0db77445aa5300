package container

import (
	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/opencontainers/runtime-spec/specs-go"
)

type specProcess = specs.Process

func eventAction(s string) eventtypes.Action { return eventtypes.Action(s) }
