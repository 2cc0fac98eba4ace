package allocmap

import (
	"errors"
	"fmt"
	"io"
)

// Partitions reads only the partition table of the disk r of size bytes,
// as Read reads it, and returns the table's kind and its partitions, with
// FS left empty. It reads little and from the start of the disk: sector
// 0, a GPT's primary header and entries (its backup, at the end of the
// disk, only when the primary is damaged), the EBRs of logical
// partitions, and the first 64 KiB of the disk to tell a superfloppy
// from a table. sectorSize 0 is 4096 when a GPT header is found only
// there, else 512. Like Read, it returns an error for I/O errors only.
func Partitions(r io.ReaderAt, size int64, sectorSize int) (Table, []Partition, error) {
	if err := (Options{SectorSize: sectorSize}).check(size); err != nil {
		return "", nil, err
	}
	d := &disk{r: r, size: size, ss: sectorSize, primaryOnly: true}
	if d.ss == 0 {
		d.ss = 512
		if size >= 4096+512 {
			b, err := d.read(512, 4096)
			if err != nil {
				return "", nil, err
			}
			if !hasAt(b, 0, "EFI PART") && hasAt(b, 4096-512, "EFI PART") {
				d.ss = 4096
			}
		}
	}
	t, err := readTable(d)
	if err != nil {
		return "", nil, err
	}
	return t.kind, t.parts, nil
}

// Detect names the filesystem of the volume at off, size bytes, of the
// disk r (diskSize bytes) by its boot sector or superblock, as Read finds
// it: one of the FS constants, or the blkid name of another filesystem.
// A volume Read would not trust — signatures of two filesystems, a FAT
// boot sector whose counts do not add up — names what was found with the
// reason as a *NotUnderstoodError. Other errors are I/O errors.
func Detect(r io.ReaderAt, diskSize, off, size int64) (FS, error) {
	d := &disk{r: r, size: diskSize, ss: 512}
	fs, _, err := detect(&volume{d: d, off: off, size: size})
	var nu *notUnderstood
	if errors.As(err, &nu) {
		return fs, &NotUnderstoodError{FS: fs, Reason: nu.msg}
	}
	return fs, err
}

// NotUnderstoodError is a volume Detect found but would not trust.
type NotUnderstoodError struct {
	FS     FS
	Reason string // a sentence for the operator
}

// Error names the filesystem and the reason.
func (e *NotUnderstoodError) Error() string { return fmt.Sprintf("%s: %s", e.FS, e.Reason) }
