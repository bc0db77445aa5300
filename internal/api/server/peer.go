package server

import (
	"context"
	"net"

	"golang.org/x/sys/unix"
)

type connKey struct{}

// WithConn keeps a request's connection in its context (http.Server's
// ConnContext), for handlers that need to know the peer.
func WithConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// peerPID is the process at the other end of a unix socket connection.
func peerPID(ctx context.Context) (int, bool) {
	uc, ok := ctx.Value(connKey{}).(*net.UnixConn)
	if !ok {
		return 0, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil || cred == nil || cred.Pid <= 0 {
		return 0, false
	}
	return int(cred.Pid), true
}
