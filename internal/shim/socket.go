package shim

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// A unix socket path is limited to 107 bytes; a longer one (deep test
// directories, full container IDs) is reached through /proc/self/fd of
// its directory, which keeps the path short without changing directory.
const maxSocketPath = 100

func listen(path string) (net.Listener, error) {
	var l net.Listener
	err := withShortPath(path, func(p string) error {
		var err error
		l, err = net.Listen("unix", p)
		return err
	})
	return l, err
}

func dial(path string) (net.Conn, error) {
	var c net.Conn
	err := withShortPath(path, func(p string) error {
		var err error
		c, err = net.Dial("unix", p)
		return err
	})
	return c, err
}

func withShortPath(path string, fn func(string) error) error {
	if len(path) <= maxSocketPath {
		return fn(path)
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return fn("/proc/self/fd/" + strconv.Itoa(int(dir.Fd())) + "/" + filepath.Base(path))
}
