package image

import (
	"context"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Pull, load and import write blobs and unpack layers before they record
// them; garbage collection and removal delete what is not recorded. The
// first take the data root's lock shared, the others exclusive, across
// processes.
func (s *Service) lockRoot(ctx context.Context, exclusive bool) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.root, "gc.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	done := make(chan error, 1)
	go func() { done <- unix.Flock(int(f.Fd()), how) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
			return nil, err
		}
		return func() { f.Close() }, nil
	case <-ctx.Done():
		go func() { <-done; f.Close() }()
		return nil, ctx.Err()
	}
}
