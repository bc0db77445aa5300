package snapshot

import (
	"golang.org/x/sys/unix"
)

// spreadChildren marks dir as the top of directory hierarchies (ext4's
// FS_TOPDIR_FL, `chattr +T`): the Orlov allocator then places each
// directory made in it in a block group of its own choosing, one with free
// inodes and blocks and few directories, rather than beside dir. Layers
// are unpacked into new directories here, so a layer's files do not land
// among the inodes of a layer just deleted: ext4 without a journal skips
// every inode freed in the last minute when it allocates one, a scan from
// the start of the group at each allocation, which made a pull that
// follows an rmi twice as slow. File systems without the flag ignore it
// or refuse it; either way nothing else changes.
func spreadChildren(dir string) {
	const topdir = 0x00020000 // FS_TOPDIR_FL, linux/fs.h
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil || flags&topdir != 0 {
		return
	}
	_ = unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags|topdir))
}
