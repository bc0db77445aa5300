package build

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// explainNoSpace turns a build that failed for want of disk space into
// one clear message that says where and what to do: a write of the
// builder's own (COPY, a layer's commit) failing with ENOSPC, or a RUN
// whose command said so.
func (b *Builder) explainNoSpace(err error) error {
	var se *StepError
	if errors.As(err, &se) {
		if strings.Contains(strings.ToLower(se.Output), "no space left on device") {
			se.Msg += "\n" + b.noSpaceHint()
		}
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), "no space left on device") {
		return &noSpaceError{msg: b.noSpaceHint(), err: err}
	}
	return err
}

func (b *Builder) dataRoot() string { return filepath.Dir(filepath.Dir(b.tmpDir)) }

func (b *Builder) noSpaceHint() string {
	root := b.dataRoot()
	free := ""
	var st unix.Statfs_t
	if unix.Statfs(root, &st) == nil {
		free = fmt.Sprintf(", %d MB free", st.Bavail*uint64(st.Bsize)>>20)
	}
	return fmt.Sprintf("no space left on device: the data root %s is full%s; free space (`gantry builder prune`, `gantry system prune`, `gantry image prune`) or give the daemon a bigger --data-root, then build again", root, free)
}

// noSpaceError keeps the original error for errors.Is.
type noSpaceError struct {
	msg string
	err error
}

func (e *noSpaceError) Error() string { return e.msg + " (" + e.err.Error() + ")" }
func (e *noSpaceError) Unwrap() error { return e.err }
