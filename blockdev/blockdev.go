// Package blockdev opens the target of a job, a USB stick's block device or a
// regular image file, and offers the few operations the executor needs:
// aligned positioned reads and writes (O_DIRECT when the target supports it),
// flushing the page cache, zeroing and discarding ranges, and ejecting a
// stick (SCSI SYNCHRONIZE CACHE, START STOP UNIT, then removing its USB
// parent through sysfs).
//
// Linux only; on other systems Open returns an error saying so.
package blockdev

import (
	"errors"
	"fmt"
)

// Options tunes Open.
type Options struct {
	// ReadOnly opens the target for reading only.
	ReadOnly bool
	// NoDirect never uses O_DIRECT, even when the target supports it.
	NoDirect bool
}

// ErrBusy is wrapped by Open's error when a block device cannot be opened
// exclusively: one of its partitions is mounted, or another program (an
// automounter, a second station) holds it open with O_EXCL.
var ErrBusy = errors.New("device is busy: a partition is mounted or another program holds it exclusively; unmount it first")

// ErrNotSupported is wrapped by ZeroOut and Discard when the device cannot do
// the operation (EOPNOTSUPP from the kernel), and by the stubs on systems
// other than Linux.
var ErrNotSupported = errors.New("operation not supported by the device")

// Align is the alignment, in bytes, that callers use for offsets, lengths
// and buffer addresses so that every I/O can go through O_DIRECT: a page, a
// multiple of every logical sector size in use (512, 4096).
const Align = 4096

// alignUp rounds n up to a multiple of a (a power of two).
func alignUp(n, a int64) int64 { return (n + a - 1) &^ (a - 1) }

// opError names the operation and the device, keeping the cause for errors.Is.
func opError(op, path string, err error) error {
	return fmt.Errorf("%s %s: %w", op, path, err)
}
