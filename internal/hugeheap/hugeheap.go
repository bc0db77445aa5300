// Package hugeheap backs the Go heap of a short-lived gantry process (the
// command line, the OCI runtime's commands) with transparent huge pages.
//
// Why: such a process touches a megabyte or two of fresh heap before it
// exits, and every 4 KB page of it is a page fault. On virtual machines
// that shadow the guest's page tables a fault costs 10–15 µs, so a command
// that answers in 25 ms spent 5 of them faulting its heap in. Huge pages
// make that one fault per 2 MB.
//
// How: the package's init, which runs before most package inits (it needs
// only syscall), marks the heap arena MADV_HUGEPAGE, so the regions the heap
// grows into later get huge pages on their first fault, and collapses the
// regions the runtime has already touched (MADV_COLLAPSE, Linux 6.1+).
// Both are hints: a kernel without them, THP set to "never", or a memory
// limit the huge page would exceed leave the heap as it was.
//
// Other roles keep the default: the daemon's and a shim's memory is
// budgeted (a huge page would hold 2 MB for the few KB they use), and so is
// --init's; a container's init runs in the container's cgroup, where 4 MB
// of heap would not fit under Docker's smallest memory limit (6 MB, which
// libcontainer sets after the init has started). GODEBUG=disablethp=1
// turns it off, as it does for the runtime.
package hugeheap

import (
	"syscall"
	"unsafe"
)

const (
	madvHugepage = 14 // MADV_HUGEPAGE
	madvCollapse = 25 // MADV_COLLAPSE

	hugePage = 2 << 20 // a PMD's worth of 4 KB pages

	// The runtime reserves the heap in 64 MB arenas and maps it in 4 MB
	// chunks (heapArenaBytes and pallocChunkBytes on 64-bit Linux).
	arenaBytes = 64 << 20
	chunkBytes = 4 << 20
)

// anchor is a heap object whose address locates the heap.
var anchor *[16]byte

func init() {
	if !wanted() {
		return
	}
	anchor = new([16]byte)
	p := uintptr(unsafe.Pointer(anchor))
	advise(p&^(arenaBytes-1), arenaBytes, madvHugepage)
	chunk := p &^ (chunkBytes - 1)
	for r := chunk; r < chunk+chunkBytes; r += hugePage {
		// Fails (EINVAL) for a region nothing has touched yet: the
		// MADV_HUGEPAGE above covers that one.
		advise(r, hugePage, madvCollapse)
	}
}

func advise(addr, n, advice uintptr) {
	syscall.Syscall(syscall.SYS_MADVISE, addr, n, advice)
}

// wanted reports whether this process is a short-lived role on a machine
// with 4 KB pages (where a huge page is 2 MB).
func wanted() bool {
	if syscall.Getpagesize() != 4096 {
		return false
	}
	if v, ok := syscall.Getenv("GODEBUG"); ok && contains(v, "disablethp=1") {
		return false
	}
	args := cmdline()
	if len(args) == 0 {
		return false
	}
	return shortLived(args)
}

// shortLived tells the roles that live for a command from the daemon, the
// shims, docker-init and a container's init.
func shortLived(args []string) bool {
	argv0 := args[0]
	for i := len(argv0) - 1; i >= 0; i-- {
		if argv0[i] == '/' {
			argv0 = argv0[i+1:]
			break
		}
	}
	if argv0 == "docker-init" {
		return false
	}
	if len(args) > 1 {
		switch args[1] {
		case "daemon", "shim", "init":
			return false
		}
	}
	return true
}

// cmdline reads the process's first arguments from /proc (os.Args is not
// set yet: this package initialises before os, and before bytes and
// strings, whose dependencies' inits would run first).
func cmdline() []string {
	fd, err := syscall.Open("/proc/self/cmdline", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	var buf [512]byte
	n, err := syscall.Read(fd, buf[:])
	if err != nil || n <= 0 {
		return nil
	}
	var args []string
	start := 0
	for i := 0; i < n; i++ {
		if buf[i] == 0 {
			args = append(args, string(buf[start:i]))
			start = i + 1
		}
	}
	return args
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
