package shim

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// gcHeadroom is how much a settled shim may allocate before it collects:
// what GOGC gives a heap this small (its 4 MB minimum goal).
const gcHeadroom = 4 << 20

// quietGC is how a settled shim collects garbage. Go collects at least
// every two minutes; in a shim that allocates next to nothing, each of
// those collections touched some 700 KB of code and read-only data (the
// collector's code, stack maps, type data) and a few hundred KB of its own
// bookkeeping, which then stayed in the RSS: 2.9 MB became 4 MB. So while
// quiet, the collector runs on a memory limit instead of GOGC, 4 MB above
// what the shim holds: a quiet shim never reaches it, a busy one about as
// often as GOGC would make it collect. After each collection the limit
// follows what is live and the pages of code (mapped a page at a time, see
// releaseCode) are given back.
type quietGC struct {
	on   atomic.Bool
	once sync.Once
	mu   sync.Mutex
	code []mapping
	drop *time.Timer // after a request, see touched
}

// start makes the collector quiet; code are the mappings releaseCode
// returned, if any yet.
func (q *quietGC) start(code []mapping) {
	q.mu.Lock()
	if len(code) > 0 {
		q.code = code
	}
	q.mu.Unlock()
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(inUse() + gcHeadroom)
	q.on.Store(true)
	q.once.Do(func() { afterEachGC(q.collected) })
	// Setting this up touched code of its own.
	q.dropCode()
}

// stop goes back to Go's usual collection, for work that allocates (an
// exec).
func (q *quietGC) stop() {
	if !q.on.Swap(false) {
		return
	}
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
}

func (q *quietGC) collected() {
	if !q.on.Load() {
		return
	}
	debug.SetMemoryLimit(inUse() + gcHeadroom)
	q.dropCode()
}

// touched says the shim just answered a request (the daemon's, after its
// restart, say): the code that took is given back once the shim has been
// quiet for a moment.
func (q *quietGC) touched() {
	if !q.on.Load() {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.drop == nil {
		q.drop = time.AfterFunc(2*time.Second, q.dropCode)
		return
	}
	q.drop.Reset(2 * time.Second)
}

// dropCode gives back the pages of code and read-only data mapped so far.
func (q *quietGC) dropCode() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range q.code {
		madvise(m.start, m.end, unix.MADV_DONTNEED)
	}
}

// inUse is the memory the runtime holds, as its memory limit counts it.
func inUse() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}

// afterEachGC calls f after every garbage collection from now on, from the
// finalizer of an object that is garbage at once and is made again each
// time.
func afterEachGC(f func()) {
	// A pointer keeps it out of the tiny allocator, whose objects'
	// finalizers may wait for their neighbours.
	type sentinel struct {
		p *int
		_ [16]byte
	}
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		f()
		afterEachGC(f)
	})
}
