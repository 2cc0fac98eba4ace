package receipts

import "golang.org/x/sys/unix"

// reserve allocates n bytes of disk past off in the file fd without
// changing its size (fallocate with KEEP_SIZE), so later appends have room.
func reserve(fd int, off, n int64) error {
	return unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, off, n)
}
