// Package relabel gives one partition of a disk image a new volume label:
// it reads the image (only reads: an io.ReaderAt) and returns the sectors
// that change, with their new bytes, as fsimage.Bytes extents. The image
// step lays them over its plan (fsimage.Overlay), so a stick gets image
// and label in one write and verify compares the label's sectors too.
//
//	vol, err := relabel.Find(img, size, 2)     // partition 2, as Linux numbers it
//	res, err := relabel.Patch(img, size, vol, "PI-0042", now)
//	plan.Extents, err = fsimage.Overlay(plan.Extents, res.Extents)
//
// The image is untrusted: every structure is checked before it is
// followed, every read is bounded by the volume and the image, and what
// does not add up is an error naming the partition, never a panic.
//
// # What is written
//
// The same as the filesystems' own tools write (the rules for the label's
// length and characters are the builders', fat.CheckLabel and the like):
//
//   - FAT12/16/32 (as fatlabel does): the boot sector's volume label field
//     (BS_VolLab, when its extended boot signature is 0x29; an older BPB
//     has no such field and keeps its bytes) and, on FAT32, the backup
//     boot sector's, where the backup is a copy of the boot sector (one
//     that differs is left as the image has it); and the root directory's
//     volume-label entry: rewritten where it is, else put in the first
//     free entry of the root directory (FAT12/16: its fixed region;
//     FAT32: its cluster chain). A root directory without a free entry
//     is an error. An empty label writes "NO NAME" in the boot sector and
//     deletes the entry.
//   - exFAT (as exfatlabel does): the root directory's Volume Label entry
//     (type 0x83: up to 11 UTF-16 units), where it is or in the first
//     unused entry. No checksum covers it: the boot region's checksum
//     covers the boot region only, and the label entry belongs to no
//     entry set.
//   - ext2/3/4 (as tune2fs -L does): the superblock's s_volume_name, and
//     its s_checksum (crc32c) with metadata_csum; then every backup
//     superblock (sparse_super, sparse_super2 or every group) as a copy of
//     the new superblock with its group number, the valid-state bit and
//     needs_recovery cleared, and its own checksum — what e2fsprogs'
//     ext2fs_flush writes for tune2fs, which clears
//     EXT2_FLAG_MASTER_SB_ONLY (Linux's label ioctl updates the backups
//     too). Left alone, the backups would bring the image's label back
//     whenever e2fsck restores a damaged superblock from one. The backups
//     are computed from the superblock, so only the volume's first
//     kilobytes are read. A filesystem whose journal needs recovery is
//     refused: replaying it may write an older superblock over the label.
//
// Which filesystem a partition holds is found by its signature
// (allocmap.Detect), not by its partition type; anything else (NTFS,
// ISO 9660, no filesystem) is an error that names what was found.
//
// relabel imports fsimage, fsimage/allocmap (the partition table,
// filesystem signatures) and the builders fsimage/fat, fsimage/exfat and
// fsimage/ext4 (their label rules and directory entries).
package relabel
