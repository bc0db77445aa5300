package shim

import (
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer/exeseal"
)

// sealedExe is a sealed in-memory copy of the gantry binary that shims run
// from, made once per daemon.
//
// Two reasons. The page cache of a binary on a file system with large folios
// (ext4 on recent kernels) is mapped 2 MB at a time, so a long-lived shim
// that touches a few pages of code shows the whole binary in its RSS; a
// memfd is mapped page by page, so a shim that gives back its start-up code
// (see releaseCode) stays small. And libcontainer runs a container's init
// straight from an exe it finds sealed, with no overlay mount per start to
// keep the container from rewriting the binary (CVE-2019-5736).
type sealedExe struct {
	f *os.File
}

func newSealedExe(exe string) (*sealedExe, error) {
	src, err := os.Open(exe)
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
		return nil, fmt.Errorf("copying %s for the shims: %w", exe, err)
	}
	return &sealedExe{f: f}, nil
}

// path names the copy for exec. It goes through this process's descriptor
// table rather than the child's, where the descriptor numbers of the files
// handed to the child are reused.
func (e *sealedExe) path() string {
	return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), e.f.Fd())
}

func (e *sealedExe) close() { e.f.Close() }
