package capture

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// fileState identifies a file and its version: a changed size, mtime or
// ctime (which every write changes and nothing can set back) is a changed
// file. rdev is a device node's device number and dev the device of the
// filesystem holding the file, both "major:minor".
type fileState struct {
	dev, rdev    string
	ino          uint64
	size         int64
	mtime, ctime int64
}

func stateOf(fi fs.FileInfo) fileState {
	s := fileState{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.dev = fmt.Sprintf("%d:%d", unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)))
		s.rdev = fmt.Sprintf("%d:%d", unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)))
		s.ino, s.ctime = st.Ino, st.Ctim.Nano()
	}
	return s
}

// openReadOnly opens a block device for reading only, never exclusively (a
// read-only mount may stay) and never for writing; with O_DIRECT (see
// directReader) where the device allows it (direct is then true).
func openReadOnly(path string) (f *os.File, direct bool, err error) {
	flags := unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	if f, err = os.OpenFile(path, flags|unix.O_DIRECT, 0); err == nil {
		return f, true, nil
	}
	f, err = os.OpenFile(path, flags, 0)
	return f, false, err
}

// dropCache asks the kernel to forget the cached pages of f, written and
// synced, so that reading it back reads the disk.
func dropCache(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
