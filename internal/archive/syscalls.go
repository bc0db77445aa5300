package archive

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// copyBufferSize is the size of the one buffer each Apply or Tar call reuses
// for file contents: large enough that big files move in few syscalls.
const copyBufferSize = 1 << 20

// wrapPathErr gives a syscall error on a host path its class.
func wrapPathErr(op, path string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return errdefs.NotFound("%s %s: %w", op, path, err)
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EDQUOT):
		return errdefs.Unavailable("%s %s: %w", op, path, err)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return errdefs.Forbidden("%s %s: %w", op, path, err)
	}
	return fmt.Errorf("%s %s: %w", op, path, err)
}

// fdWriter writes to a file descriptor without os.File's ReadFrom, which
// would make io.CopyBuffer ignore our buffer and allocate its own per file.
type fdWriter int

func (w fdWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Write(int(w), p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// fdReader reads at most n bytes from a file descriptor; like fdWriter it
// exists so that io.CopyBuffer uses the caller's buffer.
type fdReader struct {
	fd int
	n  int64
}

func (r *fdReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for {
		m, err := unix.Read(r.fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if m == 0 {
			return 0, io.EOF
		}
		r.n -= int64(m)
		return m, nil
	}
}

// futimens sets the times of an open file. x/sys has no futimens, and
// utimensat(fd, "", AT_EMPTY_PATH) is not accepted by every kernel; a NULL
// path is what the C library does.
func futimens(fd int, ts *[2]unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func timespec(t time.Time) unix.Timespec {
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// procPath names base inside the directory open as dirfd, for the calls
// (xattrs) that have no *at form. The /proc link is followed; base is not,
// when used with the l* calls.
func procPath(dirfd int, base string) string {
	return "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + base
}

// xattrIgnorable reports an xattr the filesystem or our privileges refuse
// (security.* without an LSM, user.* on a symlink, trusted.* rootless): the
// layer stays usable without it.
func xattrIgnorable(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTSUP)
}

// listXattrs returns the names and values of the xattrs of an open file
// (fd >= 0) or of a path not followed at its last component.
func listXattrs(fd int, path string, buf *[]byte) (map[string]string, error) {
	list := func(dst []byte) (int, error) {
		if fd >= 0 {
			return unix.Flistxattr(fd, dst)
		}
		return unix.Llistxattr(path, dst)
	}
	get := func(name string, dst []byte) (int, error) {
		if fd >= 0 {
			return unix.Fgetxattr(fd, name, dst)
		}
		return unix.Lgetxattr(path, name, dst)
	}
	if len(*buf) == 0 {
		*buf = make([]byte, 4096)
	}
	var n int
	for {
		var err error
		n, err = list(*buf)
		if err == unix.ERANGE {
			*buf = make([]byte, 2*len(*buf))
			continue
		}
		if err != nil {
			if xattrIgnorable(err) {
				return nil, nil
			}
			return nil, err
		}
		break
	}
	if n == 0 {
		return nil, nil
	}
	names := splitNul((*buf)[:n])
	out := make(map[string]string, len(names))
	var vbuf []byte
	for _, name := range names {
		if vbuf == nil {
			vbuf = make([]byte, 256)
		}
		for {
			m, err := get(name, vbuf)
			if err == unix.ERANGE {
				vbuf = make([]byte, 2*len(vbuf))
				continue
			}
			if err == unix.ENODATA {
				break // removed since the list was read
			}
			if err != nil {
				if xattrIgnorable(err) {
					break
				}
				return nil, err
			}
			out[name] = string(vbuf[:m])
			break
		}
	}
	return out, nil
}

func splitNul(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		if i > 0 {
			out = append(out, string(b[:i]))
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return out
}
