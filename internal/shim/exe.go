package shim

import (
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer/exeseal"
	"golang.org/x/sys/unix"
)

// codeCopy is a sealed in-memory copy of the running gantry binary, made
// once per daemon and handed to every shim (fd 4), which maps its code from
// it once its container runs (see releaseCode).
//
// Shims and containers' inits start from the binary itself: on a file
// system with large folios (ext4 on recent kernels) a process maps the
// binary 2 MB at a time, which makes starting fast (measured here: 22 ms
// against 30 ms for `gantry --version` from tmpfs). But a long-lived shim
// then shows most of the binary in its RSS though it touches a few pages;
// mapped from a memfd, it is charged only the pages it touches.
type codeCopy struct {
	f *os.File
}

func newCodeCopy() (*codeCopy, error) {
	// This process's binary, not the path it was started from: the file
	// there may have been replaced since, and the shims are started from
	// this one too.
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return nil, err
	}
	f, err := exeseal.CloneBinary(src, st.Size(), "gantry", os.TempDir())
	if err != nil {
		return nil, fmt.Errorf("copying the binary for the shims: %w", err)
	}
	// Without memfds CloneBinary falls back to a file on disk, which has
	// the large folios this is about; shims would refuse it (takeCodeCopy).
	if !sealedMemfd(f.Fd()) {
		f.Close()
		return nil, fmt.Errorf("copying the binary for the shims: no sealed memfd")
	}
	return &codeCopy{f: f}, nil
}

func (c *codeCopy) close() { c.f.Close() }

// sealedMemfd says whether fd is a memfd that can no longer be written: the
// only copy of the binary the daemon hands out and a shim maps its code from.
func sealedMemfd(fd uintptr) bool {
	seals, err := unix.FcntlInt(fd, unix.F_GET_SEALS, 0)
	return err == nil && seals&unix.F_SEAL_WRITE != 0
}
