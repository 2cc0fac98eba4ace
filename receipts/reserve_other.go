//go:build unix && !linux

package receipts

import "golang.org/x/sys/unix"

// reserve cannot reserve disk on this system: callers check the free
// space instead.
func reserve(fd int, off, n int64) error { return unix.EOPNOTSUPP }
