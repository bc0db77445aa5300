package snapshot

import (
	"context"
	"os"
	"path/filepath"
)

// TakeUpper moves the upper directory of the writable snapshot key into a
// new staging directory, which can then become a layer: a builder's step
// that ran in a throw-away container keeps its files without copying or
// unpacking them again (overlay's upper directory is already in the layers'
// format, whiteouts included). The snapshot is left empty, for its owner to
// remove; it must not be mounted.
func (s *Snapshotter) TakeUpper(ctx context.Context, key string) (*Staged, error) {
	dir, err := s.activeDir(key)
	if err != nil {
		return nil, err
	}
	tmp, err := s.staging()
	if err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(tmp, "stage-")
	if err != nil {
		return nil, err
	}
	if err := os.Rename(filepath.Join(dir, "fs"), filepath.Join(stage, "fs")); err != nil {
		os.RemoveAll(stage)
		return nil, err
	}
	return &Staged{Dir: filepath.Join(stage, "fs"), s: s, root: stage}, nil
}

// UpperDir is the upper directory of the writable snapshot key, for
// reading its changes (commit).
func (s *Snapshotter) UpperDir(key string) (string, error) {
	dir, err := s.activeDir(key)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "fs"), nil
}
