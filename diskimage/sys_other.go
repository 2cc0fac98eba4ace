//go:build !linux

package diskimage

import "os"

// identify returns size and mtime only here: no inode or ctime.
func identify(fi os.FileInfo) fileID {
	return fileID{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
}

// lockFile does not lock here: only one process uses a cache directory.
func lockFile(f *os.File, wait bool) error { return nil }

// spans gives everything as data here (no SEEK_DATA): holes are written as
// zeros, which is slower but never wrong.
func spans(f *os.File, off, end int64) ([]Span, error) {
	return []Span{{Offset: off, Length: end - off, Data: true}}, nil
}
