// Package shim is the per-container supervisor (`gantry shim`) and the
// daemon's client of it.
//
// One shim runs per running container. It creates the container with itself
// as the parent, owns its stdio (pipes or the terminal's master), writes the
// log, reaps it, records its exit in a file, and answers the daemon on a unix
// socket. It does not depend on the daemon: when the daemon dies the shim and
// its container go on, and a restarted daemon connects again.
//
// The protocol: the client connects, writes one Request as a JSON line and
// reads one Response as a JSON line. "attach" and "exec" connections then
// carry the process's stdio: from the client, raw stdin bytes (a half-close
// is end of input); to the client, Docker's multiplexed frames (8-byte
// header: stream 1 or 2, three zero bytes, big-endian length) without a
// terminal, the raw terminal output with one. The shim closes the
// connection when the process's output ends.
//
//	start                          let the created container run
//	wait                           answer when the container has exited: exit code, time, OOM
//	attach {stdin,stdout,stderr}   join the container's stdio
//	exec {execID,process,terminal,stdin}  start a process, then carry its stdio
//	execWait {execID}              answer when that exec has exited
//	resize {execID?,width,height}  resize a terminal
//	kill {signal,all}              signal the container's init (all: every process in it)
//
// Before it answers anything the shim reports on file descriptor 3, once:
// {"pid":N} when the container is created, or {"error":...} and exits.
package shim

import (
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// Request is one call to the shim.
type Request struct {
	Op       string         `json:"op"`
	Stdin    bool           `json:"stdin,omitempty"`
	Stdout   bool           `json:"stdout,omitempty"`
	Stderr   bool           `json:"stderr,omitempty"`
	ExecID   string         `json:"execID,omitempty"`
	Process  *specs.Process `json:"process,omitempty"`
	Terminal bool           `json:"terminal,omitempty"`
	Width    uint16         `json:"width,omitempty"`
	Height   uint16         `json:"height,omitempty"`
	Signal   int            `json:"signal,omitempty"`
	All      bool           `json:"all,omitempty"`
}

// Response is the shim's answer.
type Response struct {
	Error string `json:"error,omitempty"`
	// Class is the error's class (errdefs) so the daemon reports it with
	// the right status: "notfound", "conflict", "invalid", "unavailable".
	Class string `json:"class,omitempty"`
	Pid   int    `json:"pid,omitempty"`
	Exit
}

// Exit is how a process ended, as recorded in the exit file.
type Exit struct {
	ExitCode  int       `json:"exitCode"`
	ExitedAt  time.Time `json:"exitedAt,omitzero"`
	OOMKilled bool      `json:"oomKilled,omitempty"`
}

// The streams of Docker's multiplexed framing.
const (
	streamStdout = 1
	streamStderr = 2
)
