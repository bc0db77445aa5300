package shim

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// releaseCode gives back the pages of the binary's code and read-only data
// that the shim's start touched: package set-up, libcontainer's container
// creation. A running shim only copies output and waits, so what it touches
// again is little. The pages are the page cache's, not copies: dropping them
// from this process frees nothing system-wide, but keeps them out of the
// shim's RSS, which is what people see and count per container.
//
// Only mappings without private copies are dropped: a relocated page of
// read-only data written at start (static glibc's ifunc table) would come
// back from the file unrelocated.
func releaseCode() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return
	}
	var start, end uintptr
	drop := false
	flush := func() {
		if drop {
			// Not mapped whole again at the next touch, where the page
			// cache holds large folios.
			madvise(start, end, unix.MADV_NOHUGEPAGE)
			madvise(start, end, unix.MADV_DONTNEED)
		}
		drop = false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			flush()
			lo, hi, _ := strings.Cut(f[0], "-")
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			path := strings.Join(f[5:], " ")
			drop = err1 == nil && err2 == nil && path == exe && !strings.Contains(f[1], "w")
			start, end = uintptr(a), uintptr(b)
			continue
		}
		if rest, ok := strings.CutPrefix(line, "Anonymous:"); ok && strings.TrimSpace(rest) != "0 kB" {
			drop = false
		}
	}
	flush()
}

// madvise takes addresses, not a slice: the range is the binary's, not
// memory Go allocated.
func madvise(start, end uintptr, advice int) {
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, start, end-start, uintptr(advice))
}
