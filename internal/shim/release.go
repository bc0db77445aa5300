package shim

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// codeCopyFd is where a standby shim finds the daemon's codeCopy, if any.
const codeCopyFd = 4

// takeCodeCopy claims the daemon's copy of the binary, first thing in a
// standby shim (before any file of its own could take the number): nil
// unless fd 4 is a sealed memfd.
func takeCodeCopy() *os.File {
	if !sealedMemfd(codeCopyFd) {
		return nil
	}
	unix.CloseOnExec(codeCopyFd)
	return os.NewFile(codeCopyFd, "code")
}

// releaseCode gives back the pages of the binary's code and read-only data
// that the shim's start touched: package set-up, libcontainer's container
// creation. A running shim copies output and waits, and touches little of
// them again.
//
// With the daemon's in-memory copy of the binary, code, the mappings are
// replaced by the same bytes mapped from the copy, page by page as touched;
// without it they are only dropped, and the next touch maps whole large
// folios of the binary again. Either way the pages are the page cache's, not
// copies: nothing is freed system-wide, but the shim's RSS counts only what
// it uses.
//
// Only mappings without private copies are replaced: a relocated page of
// read-only data written at start (static glibc's ifunc table) must stay.
//
// It returns the mappings now faulted a page at a time, which can be
// dropped again at any time (quietGC does after each collection).
func releaseCode(code *os.File) []mapping {
	if code != nil && !sameFile(code) {
		code = nil
	}
	uffd := -1
	if code != nil {
		uffd = pageByPage()
	}
	var registered []mapping
	for _, m := range exeMappings() {
		if code != nil && remap(m, code) {
			if uffd >= 0 && faultPageByPage(uffd, m.start, m.end) {
				registered = append(registered, m)
			}
			continue
		}
		// Not mapped whole again at the next touch where the page cache
		// holds large folios.
		madvise(m.start, m.end, unix.MADV_NOHUGEPAGE)
		madvise(m.start, m.end, unix.MADV_DONTNEED)
	}
	if len(registered) == 0 && uffd >= 0 {
		unix.Close(uffd)
	}
	// What was touched while the registrations were being made was mapped
	// 64 KB at a time: drop it (the registration stays, and with it the
	// descriptor, for the process's life).
	for _, m := range registered {
		madvise(m.start, m.end, unix.MADV_DONTNEED)
	}
	return registered
}

type mapping struct {
	start, end, offset uintptr
	exec               bool
}

// exeMappings lists the binary's read-only mappings that hold no private
// pages.
func exeMappings() []mapping {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil
	}
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return nil
	}
	var out []mapping
	var cur mapping
	keep := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			if keep {
				out = append(out, cur)
			}
			lo, hi, _ := strings.Cut(f[0], "-")
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			off, err3 := strconv.ParseUint(f[2], 16, 64)
			keep = err1 == nil && err2 == nil && err3 == nil && strings.Join(f[5:], " ") == exe &&
				!strings.Contains(f[1], "w") && strings.HasPrefix(f[1], "r")
			cur = mapping{start: uintptr(a), end: uintptr(b), offset: uintptr(off), exec: strings.Contains(f[1], "x")}
			continue
		}
		if rest, ok := strings.CutPrefix(line, "Anonymous:"); ok && strings.TrimSpace(rest) != "0 kB" {
			keep = false
		}
	}
	if keep {
		out = append(out, cur)
	}
	return out
}

// sameFile says whether code holds the bytes of this process's binary: same
// size and same contents at a few places. The daemon copies the binary it
// runs and starts shims from that same file, so anything else is a bug or
// a shim started by another daemon; replacing code with other bytes would
// crash the shim.
func sameFile(code *os.File) bool {
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		return false
	}
	defer exe.Close()
	a, err1 := exe.Stat()
	b, err2 := code.Stat()
	if err1 != nil || err2 != nil || a.Size() != b.Size() || a.Size() < 1<<20 {
		return false
	}
	x, y := make([]byte, 64<<10), make([]byte, 64<<10)
	for _, off := range []int64{0, a.Size() / 3, a.Size() / 2, a.Size() - int64(len(x))} {
		if _, err := exe.ReadAt(x, off); err != nil {
			return false
		}
		if _, err := code.ReadAt(y, off); err != nil || !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}

// remap maps m's range from code instead of the binary, in place: the same
// bytes at the same addresses, so code running there (this very function's
// among it) goes on unaware.
func remap(m mapping, code *os.File) bool {
	prot := unix.PROT_READ
	if m.exec {
		prot |= unix.PROT_EXEC
	}
	// A mapping the kernel refuses (a memfd without exec rights) must fail
	// here rather than after MAP_FIXED has taken the old one down.
	probe, err := unix.Mmap(int(code.Fd()), int64(m.offset), 4096, prot, unix.MAP_PRIVATE)
	if err != nil {
		return false
	}
	_ = unix.Munmap(probe)
	addr, _, errno := unix.Syscall6(unix.SYS_MMAP, m.start, m.end-m.start, uintptr(prot),
		unix.MAP_PRIVATE|unix.MAP_FIXED, code.Fd(), m.offset)
	return errno == 0 && addr == m.start
}

// madvise takes addresses, not a slice: the range is the binary's, not
// memory Go allocated.
func madvise(start, end uintptr, advice int) {
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, start, end-start, uintptr(advice))
}
