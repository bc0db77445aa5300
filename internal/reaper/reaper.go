// Package reaper is `--init`: a tiny init for the container's PID 1 (run
// as /sbin/docker-init, Docker's name for it) that starts the command,
// passes signals on to it, reaps every orphan reparented to it, and exits
// with the command's status — so a program that was never written to be
// PID 1 gets its signals and leaves no zombies.
package reaper

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"

	"golang.org/x/sys/unix"
)

// Main runs args (after an optional "--") and returns its exit status.
func Main(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "docker-init: no command given: usage: docker-init -- COMMAND [ARG...]")
		return 2
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "docker-init: exec %s: %v\n", args[0], err)
		return 127
	}
	// Every signal is caught before the child exists, so none is lost.
	signals := make(chan os.Signal, 64)
	signal.Notify(signals)
	proc, err := os.StartProcess(path, args, &os.ProcAttr{
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys:   &unix.SysProcAttr{Setsid: false},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "docker-init: exec %s: %v\n", args[0], err)
		return 126
	}
	child := proc.Pid
	for s := range signals {
		switch s {
		case unix.SIGCHLD:
			if status, done := reap(child); done {
				return status
			}
		case unix.SIGURG:
			// The Go runtime's own preemption signal.
		default:
			_ = unix.Kill(child, s.(unix.Signal))
		}
	}
	return 0
}

// reap collects every exited child; done when the command itself exited.
func reap(child int) (status int, done bool) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err != nil || pid <= 0 {
			return 0, false
		}
		if pid != child {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal()), true
		}
		return ws.ExitStatus(), true
	}
}
