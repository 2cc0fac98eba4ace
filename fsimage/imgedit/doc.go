// Package imgedit puts files into one FAT12/16/32 or exFAT partition of a
// disk image without mounting it: it reads the partition's structures (only
// reads: an io.ReaderAt) and returns the sectors that change, with their
// new bytes, as fsimage.Bytes extents. The image step lays them over its
// plan (fsimage.Overlay), as it does a per-stick label (fsimage/relabel),
// so a stick gets image and files in one write and verify compares the
// files' sectors too.
//
//	vol, err := imgedit.Open(img, size, 1)   // partition 1, as Linux numbers it
//	res, err := imgedit.Patch(img, size, vol, []imgedit.File{{Path: "ssh"}, ...})
//	plan.Extents, err = fsimage.Overlay(plan.Extents, res.Extents)
//
// # What is written
//
// What a FAT driver writes when it creates the file, on FAT12/16/32:
//
//   - A file of the same name (compared as FAT compares names, without
//     regard to case, by its long or its short name) is replaced: its
//     clusters are freed and its entries deleted (0xE5).
//   - The file's data goes into free clusters, first fit from cluster 2,
//     chained in the FAT; the last cluster's tail is zeros. An empty file
//     has no cluster.
//   - Its directory entries — long-name entries with the short entry's
//     checksum where the name is not a plain 8.3 name, then the short
//     entry with a short name made as fsimage/fat's builder makes one —
//     go into the first run of free entries of the directory that holds
//     it. A directory without room grows by a cluster (zeros); the fixed
//     root directory of FAT12/16 cannot grow, and is an error when full.
//   - Folders on the path that do not exist are made (a cluster with "."
//     and ".." entries); a file in the way of one is an error.
//   - Every copy of the FAT gets the changed FAT sectors; on FAT32, the
//     FSInfo sector gets the new free-cluster count and the last cluster
//     given out as its next-free hint.
//
// Nothing else changes: the boot sector (and its volume-dirty bits) and
// the backup FSInfo stay as the image has them, as Linux leaves them.
// Content that does not fit into the free clusters is an error that says
// how much is needed and free. Every structure is checked before it is
// followed and every read is bounded: what does not add up is an error
// naming the partition, never a panic.
//
// On exFAT, what the Linux driver writes:
//
//   - A file of the same name (compared through the up-case table) is
//     replaced: its clusters are cleared in the allocation bitmap (and
//     its FAT chain, if it has one, freed) and its entry set marked
//     unused.
//   - The file's data goes into the first run of free clusters that holds
//     it, marked NoFatChain; where no run is long enough, into the first
//     free clusters, chained in the FAT. The allocation bitmap marks them.
//   - Its entry set — File, Stream Extension and File Name entries, with
//     the set checksum and the name hash, as fsimage/exfat's builder
//     writes them — goes into the first run of unused entries of its
//     folder. A folder without room grows by a cluster: the root folder's
//     FAT chain gets it; a subfolder's too (a NoFatChain one gets a chain
//     first), and its entry set in its parent the new length and checksum.
//   - Folders on the path that do not exist are made (one cluster, a FAT
//     chain, as the builder makes folders).
//
// Name hashes are those of the specification's up-case table, which
// mkfs.exfat and fsimage/exfat write; a volume with another table is
// refused. The boot region (its volume-dirty flag and percent-in-use
// included, so its checksum holds) stays as the image has it.
//
// imgedit imports fsimage, fsimage/allocmap, fsimage/relabel (Find, the
// volume's FAT or exFAT geometry, the Patcher that collects changed
// sectors), fsimage/fat and fsimage/exfat (names, directory entries and
// entry sets as their builders write them).
package imgedit
