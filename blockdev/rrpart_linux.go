//go:build linux

package blockdev

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// RereadPartitions asks the kernel to read the partition table of the
// whole disk at path again (BLKRRPART), so the partitions of a freshly
// written stick appear as block devices. It fails with EBUSY while any of
// the disk's partitions is in use.
func RereadPartitions(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.IoctlSetInt(int(f.Fd()), unix.BLKRRPART, 0); err != nil {
		return opError("re-read partitions of", path, err)
	}
	return nil
}

// PartitionPath returns the device path of partition n of the whole disk
// at disk: /dev/sdb → /dev/sdb1, /dev/loop0 → /dev/loop0p1.
func PartitionPath(disk string, n int) string {
	if c := disk[len(disk)-1]; c >= '0' && c <= '9' {
		return fmt.Sprintf("%sp%d", disk, n)
	}
	return fmt.Sprintf("%s%d", disk, n)
}
