//go:build !unix

package manifest

import "io/fs"

// fileID identifies a directory on the host, for loop detection. Without
// inode numbers it falls back to the name and time, which is weaker.
type fileID struct {
	name string
	mod  int64
}

func idOf(fi fs.FileInfo) fileID { return fileID{fi.Name(), fi.ModTime().UnixNano()} }

func inodeOf(fs.FileInfo) uint64 { return 0 }
