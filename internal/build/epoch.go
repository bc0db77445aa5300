package build

import (
	"io/fs"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// clampTimes sets every time in a new layer's tree that is later than
// epoch to epoch (SOURCE_DATE_EPOCH), on disk: the layer's tar, its diff
// ID and the blob a push makes of it are then the same on any machine. A
// nil epoch changes nothing.
func clampTimes(dir string, epoch *time.Time) error {
	if epoch == nil {
		return nil
	}
	ts := []unix.Timespec{unix.NsecToTimespec(epoch.UnixNano()), unix.NsecToTimespec(epoch.UnixNano())}
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// A directory's time changes as its entries are touched: its
			// own comes last.
			dirs = append(dirs, p)
			return nil
		}
		return clampOne(p, epoch, ts)
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := clampOne(dirs[i], epoch, ts); err != nil {
			return err
		}
	}
	return nil
}

func clampOne(p string, epoch *time.Time, ts []unix.Timespec) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	if time.Unix(st.Mtim.Unix()).After(*epoch) {
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}
