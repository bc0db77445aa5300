package shim

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel maps up to 64 KB of page cache around every read fault of a
// file mapping (fault-around): for a shim that touches a few scattered
// pages of code, most of its code RSS. A mapping registered with a
// userfaultfd in write-protect mode is faulted one page at a time instead;
// the code is never written, so the registration has no other effect. The
// descriptor must stay open for as long as the registration should last.

const (
	uffdAPI            = 0xaa
	uffdioAPI          = 0xc018aa3f // _IOWR(0xaa, 0x3f, struct uffdio_api)
	uffdioRegister     = 0xc020aa00 // _IOWR(0xaa, 0x00, struct uffdio_register)
	uffdRegisterModeWP = 1 << 1
	uffdFeatureWPShmem = 1 << 12 // UFFD_FEATURE_WP_HUGETLBFS_SHMEM
	uffdUserModeOnly   = 1
)

type uffdioAPIArg struct {
	api, features, ioctls uint64
}

type uffdioRegisterArg struct {
	start, len, mode, ioctls uint64
}

// pageByPage opens a userfaultfd for registering mappings with
// (faultPageByPage); -1 where the kernel does not allow it.
func pageByPage() int {
	fd, _, errno := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|uffdUserModeOnly, 0, 0)
	if errno == unix.EINVAL { // a kernel before 5.11
		fd, _, errno = unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC, 0, 0)
	}
	if errno != 0 {
		return -1
	}
	api := uffdioAPIArg{api: uffdAPI, features: uffdFeatureWPShmem}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, uffdioAPI, uintptr(unsafe.Pointer(&api))); errno != 0 {
		unix.Close(int(fd))
		return -1
	}
	return int(fd)
}

// faultPageByPage registers [start, end) with uffd; false if the kernel
// refused (a mapping that is not shmem, a kernel without write-protect for
// shmem).
func faultPageByPage(uffd int, start, end uintptr) bool {
	reg := uffdioRegisterArg{start: uint64(start), len: uint64(end - start), mode: uffdRegisterModeWP}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(uffd), uffdioRegister, uintptr(unsafe.Pointer(&reg)))
	return errno == 0
}
