// Package imgedit puts files into one FAT12/16/32 partition of a disk
// image without mounting it: it reads the partition's structures (only
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
// What a FAT driver writes when it creates the file:
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
// exFAT partitions are not edited yet: Open refuses them, naming what it
// can edit.
//
// imgedit imports fsimage, fsimage/allocmap, fsimage/relabel (Find, the
// volume's FAT geometry, the Patcher that collects changed sectors) and
// fsimage/fat (its names and directory entries).
package imgedit
