// Package idle runs work nobody waits for (deleting a removed image's or
// container's files) so that it takes only CPU time and disk bandwidth
// that the work somebody waits for leaves: on a small machine, a pull or a
// start that follows a removal would otherwise share the CPU with it.
package idle

import (
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// Go runs f on a goroutine locked to an OS thread of its own, at the
// lowest CPU priority (nice 19: a small share when the CPU is busy, never
// none) and in the idle I/O class. The thread ends with f (a
// goroutine that exits locked takes its thread with it), so the policy
// never reaches other goroutines. wg counts f, for whoever must wait for
// it (a Close).
func Go(wg *sync.WaitGroup, f func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		runtime.LockOSThread() // never unlocked: see above
		lower()
		f()
	}()
}

// lower puts the calling thread at idle priority; where the kernel
// refuses, f runs as it is.
func lower() {
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19)
	const ioprioClassIdle = 3
	_, _, _ = unix.Syscall(unix.SYS_IOPRIO_SET, 1 /* IOPRIO_WHO_PROCESS: this thread */, 0, ioprioClassIdle<<13)
}
