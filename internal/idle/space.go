package idle

import "golang.org/x/sys/unix"

// CanWait reports whether deleting files under dir can be left for later:
// not when its filesystem is short of space (under 1 GiB or 5% free), for
// whatever comes next, a retried build say, may need the space those
// files hold, as it would have with a deletion that finishes before it
// returns. Where the filesystem cannot be read, it can.
func CanWait(dir string) bool {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return true
	}
	free, total := st.Bavail*uint64(st.Bsize), st.Blocks*uint64(st.Bsize)
	return free >= 1<<30 && free*20 >= total
}
