package daemon

import (
	"net/http"
	"runtime/debug"
	"sync"
	"time"
)

// idleMemory hands the heap the daemon no longer uses back to the kernel
// once requests stop coming. Go's background scavenger returns it over
// minutes; a daemon that is idle most of its life should not hold a burst's
// worth of memory (fifty containers started, a build) until then.
type idleMemory struct {
	next  http.Handler
	after time.Duration

	mu    sync.Mutex
	timer *time.Timer
}

func releaseWhenIdle(next http.Handler, after time.Duration) *idleMemory {
	m := &idleMemory{next: next, after: after}
	m.timer = time.AfterFunc(after, debug.FreeOSMemory)
	return m
}

func (m *idleMemory) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.next.ServeHTTP(w, r)
	// Each request pushes the release back: it runs once, after the last.
	m.mu.Lock()
	m.timer.Reset(m.after)
	m.mu.Unlock()
}
