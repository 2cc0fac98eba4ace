// Package fat lays out a FAT32 filesystem (or FAT16, for volumes too small to
// hold FAT32's minimum of 65,525 clusters) as a write plan: the boot sectors,
// FSInfo, both FATs and every directory as Bytes extents, the free part of
// each FAT as Zero extents, and each file's data as one contiguous FileData
// extent. It never reads file contents; only Entry metadata.
//
// Layout. Clusters are allocated in vol.Entries order, starting with the root
// directory (FAT32) at cluster 2, so the whole data area is written front to
// back in one sequential pass. Every directory and every file is one
// contiguous cluster run. The data area starts on a cluster-size boundary of
// the device (the reserved area is padded, as mkfs.fat does), so clusters line
// up with flash pages when the partition itself is aligned.
//
// Cluster size. By default the one Windows' format picks for FAT32
// (Microsoft KB140365): 512 bytes up to 64 MiB, 1 KiB up to 128 MiB, 2 KiB
// up to 256 MiB, 4 KiB up to 8 GiB, 8 KiB up to 16 GiB, 16 KiB up to 32 GiB,
// and 32 KiB above, but never smaller than the logical sector. When FAT16 is
// used the FAT16 table of Microsoft's FAT specification applies. An explicit
// Volume.ClusterSize must be a power of two from 512 bytes to 64 KiB and at
// least the sector size. Cluster sizes of 128 KiB and more are refused: they
// are expressible with 4096-byte sectors, but Windows does not mount them.
//
// Time stamps. FAT stores local time without a zone. This package writes
// every time stamp in UTC, so a stick made anywhere carries the same bytes.
// Modification times have FAT's 2-second resolution; creation times carry the
// extra 10 ms field. Times before 1980-01-01 are written as 1980-01-01
// 00:00:00 and times after 2107-12-31 23:59:59 as that instant. An entry
// without a modification time (the zero time.Time) gets Volume.Now, as does
// the volume-label entry.
//
// Names. Long names are stored as VFAT long-name entries (UTF-16, surrogate
// pairs included). Each gets an 8.3 alias, unique within its directory: a
// mixed-case name that fits 8.3 gets its upper-cased self; any other gets
// upper case ASCII with spaces and extra dots dropped, characters that have
// no place in a short name replaced by '_', and a "~N" tail. Names stored as
// they are and upper-cased aliases are reserved before any "~N" alias is
// handed out, so no alias equals another entry's name. A name that
// is already a valid upper case 8.3 name gets no long-name entry; a valid
// 8.3 name whose base and extension are each entirely lower or upper case is
// stored as a short name with the Windows NT case flags (0x08 base, 0x10
// extension), also without a long-name entry. Short names use ASCII only, so
// they read the same in every OEM code page.
//
// Volume label. Upper-cased, at most 11 characters of printable ASCII, none
// of " * + , . / : ; < = > ? [ \ ] |. It is written in the boot sector and as
// the root directory's volume-label entry, and returned in Layout.Label. An
// empty label writes "NO NAME" in the boot sector, no label entry, and
// leaves Layout.Label empty. Non-ASCII labels are refused rather than
// written in some OEM code page the reader may not share.
//
// Attributes. Directories get ATTR_DIRECTORY, files ATTR_ARCHIVE; the source
// mode bits are not mapped.
package fat
