//go:build unix

package manifest

import (
	"io/fs"
	"syscall"
)

// fileID identifies a directory on the host, for loop detection.
type fileID struct{ dev, ino uint64 }

func idOf(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{uint64(st.Dev), uint64(st.Ino)}
	}
	return fileID{}
}

func inodeOf(fi fs.FileInfo) uint64 { return idOf(fi).ino }
