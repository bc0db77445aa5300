package shim

import (
	"os"

	"golang.org/x/sys/unix"
)

// setName sets the process's name as ps and /proc/PID/comm show it. The
// name is the thread group leader's: prctl(PR_SET_NAME) would name only
// whichever thread the goroutine runs on.
func setName(name string) {
	_ = os.WriteFile("/proc/self/comm", []byte(name), 0)
}

func dupCloexec(fd int) (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) }
