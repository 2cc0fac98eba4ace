// Package allocmap reads a disk — a master stick or an image file — and
// returns its allocation map: the byte ranges that must be copied to
// reproduce it, for `flashpipe capture`'s image and block map. It only
// reads, and it reads an untrusted stick: nothing on it makes Read panic
// or return an error; anything it does not understand, or understands but
// cannot trust, is mapped whole, with a reason for the operator. A wrong
// "free" would lose data on every copy; a wrong "used" only costs time.
//
// # What is mapped
//
// The partition table (MBR, GPT or none) is read first:
//
//   - the MBR sector and everything before the first partition, whatever
//     it holds: boot loaders (GRUB's core image, U-Boot on Allwinner and
//     Rockchip boards) live in that gap;
//   - a GPT's primary and backup headers and entry arrays, both checked by
//     their CRC32s; a damaged primary is read from the backup (as Linux
//     does), and with neither readable the whole disk is mapped;
//   - the EBR of every logical partition in an MBR extended partition (a
//     chain that loops or leaves the extended partition maps it whole);
//   - the entries of a hybrid MBR that no GPT partition matches;
//   - without a table (a "superfloppy") the disk is one volume from 0. A
//     sector 0 that is both a valid MBR and a FAT or exFAT boot sector is
//     mapped both ways.
//
// Each partition's filesystem is then found by its superblock or boot
// sector, not by its type byte, and mapped by its own allocation data:
//
//   - FAT12/16/32: the reserved sectors (boot sector, FSInfo, backup boot
//     sector), every FAT, the FAT12/16 root directory, and every cluster
//     that any FAT copy marks used (bad clusters are not copied);
//   - exFAT: everything before the cluster heap (boot regions with their
//     checksum, FATs), the root directory, the allocation bitmaps and the
//     up-case table, and every cluster an allocation bitmap marks used —
//     the bitmap, not the FAT, is what exFAT allocates by;
//   - ext2/3/4: the boot block and superblock, every group's superblock
//     and descriptor copies (sparse_super, sparse_super2, meta_bg), block
//     and inode bitmaps and whole inode table wherever flex_bg put them,
//     and every block the block bitmaps mark used (the journal, the resize
//     inode and every file included). A group flagged BLOCK_UNINIT has no
//     bitmap on disk and uses exactly its metadata; the flag is trusted
//     only where group descriptors carry checksums (uninit_bg or
//     metadata_csum), as the kernel does. Descriptor checksums (crc16 or
//     crc32c), the superblock's and block bitmaps' crc32c are checked, and
//     each initialised bitmap must mark its group's metadata used.
//
// Ranges are merged and widened to the caller's block size.
//
// # What is not mapped
//
// Free clusters and blocks (deleted files' stale data, never-written
// space), the space between or after partitions (outside the boot area
// before the first one), the end of a partition past its filesystem,
// and the gap between a GPT's last partition and its backup: nothing on
// the disk refers to any of it.
//
// # What maps a volume whole
//
// Any other filesystem (NTFS, ISO 9660, btrfs, LUKS ... are named in the
// reason) or no filesystem at all; ext bigalloc, external journals and
// feature bits Read does not know; and every inconsistency: a structure
// that points outside its volume, counts that do not add up, a failed
// checksum, signatures of two filesystems at once, a FAT whose media byte
// disagrees with its boot sector. So is a volume that was not cleanly
// unmounted — a FAT or exFAT dirty flag, an ext journal that needs
// recovery, an ext superblock that records errors — because its
// allocation data may not describe what its files use (the journal of an
// ext4 not cleanly unmounted will write blocks its bitmaps still call
// free). Running fsck on the master first lets Read map it by allocation.
//
// # The table alone
//
// Partitions reads only the partition table, from the start of the disk
// (a GPT's backup only when its primary is damaged), and Detect names one
// volume's filesystem by its signature: fsimage/relabel finds the
// partition it labels with them while an image is still being
// decompressed.
package allocmap
