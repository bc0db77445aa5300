package shim

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// reapStrays reaps the shim's zombie children left by an exec that failed
// half-way: libcontainer's stage-1 and stage-2 processes are started with
// CLONE_PARENT, so they are the shim's children, and runc reaps them only
// on success. A stage-2 zombie sits in the container's PID namespace, and
// while it is unreaped the container's init cannot finish exiting (the
// kernel waits in zap_pid_ns_processes for every process of the
// namespace to be reaped): the container would hang in its exit, its
// shim never reporting it. This is what an exec racing the container's
// exit (a health probe during a stop) leaves. Only zombies still named
// runc:[...] are taken: nothing else's exit status is lost, and runc
// tolerates a stage-1 reaped before it.
func reapStrays() {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for f := range bytes.FieldsSeq(data) {
			pid, err := strconv.Atoi(string(f))
			if err != nil || !strayZombie(pid) {
				continue
			}
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
	}
}

// reapStraysSoon reaps now and twice more: a stage-2 killed as its exec
// failed may turn zombie a moment after the failure is reported. Never
// while another exec starts (spawnMu): its runc:[0:PARENT], a zombie for
// a moment before libcontainer waits for it, must be left to libcontainer,
// which fails the exec if it finds it reaped.
func (s *shim) reapStraysSoon() {
	for _, d := range []time.Duration{0, 50 * time.Millisecond, 500 * time.Millisecond} {
		time.Sleep(d)
		s.spawnMu.Lock()
		reapStrays()
		s.spawnMu.Unlock()
	}
}

// strayZombie tells whether pid is a zombie libcontainer stage process:
// /proc/PID/stat is "PID (comm) STATE ...".
func strayZombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	open, close := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || close < open || close+2 >= len(stat) {
		return false
	}
	comm := stat[open+1 : close]
	return stat[close+2] == 'Z' && bytes.HasPrefix(comm, []byte("runc:["))
}
