// Package capture makes a disk image of a master stick or of an image
// file: `flashpipe capture SOURCE -o master.img[.zst|.xz|.gz] [--bmap]`.
// It only reads the source.
//
//	c, err := capture.Open("/dev/sdb", capture.Options{Output: "master.img.zst", Bmap: true,
//		Sysfs: sysfs, Procfs: procfs})
//	// c.Map: the partition table, each partition's filesystem and what is
//	// mapped of it (or why it is mapped whole); c.Mapped: bytes to copy.
//	res, err := c.Write(ctx) // res.SHA256: the image's, as read back
//	c.Close()
//
// # What is copied
//
// The allocation map (fsimage/allocmap) decides: for FAT12/16/32, exFAT
// and ext2/3/4 only the blocks their allocation data marks used, with all
// their metadata; the partition table and the boot area before the first
// partition; any other filesystem, or one that is damaged or was not
// cleanly unmounted, whole. Options.Full maps every byte. The ranges are
// widened to 4 KiB blocks, the block map's.
//
// # What is written
//
// The image is as big as the source. Raw (NAME.img) is a sparse file:
// only the mapped blocks that are not all zeros are written, the rest are
// holes. zstd, xz and gzip (NAME.img.zst, .xz, .gz) compress the whole
// image, what is not mapped as zeros, in 8 MiB chunks on every core; each
// chunk is a complete frame, stream or member (see chunkSize and
// newEncoder for the levels and why). The block map (Options.Bmap, at
// bmap.PathFor) is bmaptool's format 2.0 with a SHA-256 for each range, so
// `bmaptool copy` and a station's bmap = "auto" write only the mapped
// blocks and check each.
//
// # Safety
//
// The source is opened O_RDONLY, never exclusively and never for writing;
// a block device with O_DIRECT, so that what is copied is what the stick
// holds, not the page cache's view of it (a filesystem mounted read-only
// may change its buffers in memory — ext4 does its journal's superblock —
// and those changes never reach the stick).
// A regular file is opened as fsimage.OpenRegular does (a FIFO is never
// opened); anything but a regular file or a block device is refused. A
// block device is refused while something may write to it: a filesystem
// on it, on a partition or on a loop device stacked on it mounted
// read-write, swap on it, or a holder (device mapper, md RAID, LVM). A
// read-only mount is fine. The same check runs again after the copy, and
// an image file must keep its size, mtime and ctime; otherwise the image
// is discarded. An output that exists is replaced only with
// Options.Force, never when it is the source itself, and never on the
// source device.
//
// # Verification
//
// While the source is read, each range of the block map is hashed with
// SHA-256 (these are the block map's checksums). After the output is
// synced and dropped from the page cache, it is opened with diskimage (as
// a station opens it), decoded in one pass and checked: every mapped range
// against the SHA-256 taken from the source and against the block map
// file, every other byte for zero, the size against the source's. The
// source is not read twice: on a stick, reading is the slow part, and the
// hashes prove the same — the image holds what was read. The image's
// SHA-256 comes from this read-back. Only when it passes are OUT.part and
// BMAP.part renamed into place; a failure removes them.
//
// capture imports blockdev, diskimage, diskimage/bmap, fsimage,
// fsimage/allocmap and matchers; only cmd/flashpipe imports it.
package capture
