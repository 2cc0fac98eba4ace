//go:build !linux

package capture

import (
	"errors"
	"io/fs"
	"os"
)

// fileState identifies a file and its version (see sys_linux.go); off
// Linux only by size and mtime, and device numbers are unknown.
type fileState struct {
	dev, rdev   string
	size, mtime int64
}

func stateOf(fi fs.FileInfo) fileState {
	return fileState{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// openReadOnly: capturing a block device needs Linux (sysfs, mountinfo).
func openReadOnly(path string) (*os.File, bool, error) {
	return nil, false, errors.New("capturing a block device needs Linux; capture an image file of it instead")
}

func dropCache(*os.File) {}
