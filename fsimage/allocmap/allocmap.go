package allocmap

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/flashpipe/flashpipe/fsimage"
)

// Options tune Read.
type Options struct {
	// SectorSize is the disk's logical sector size, the unit of its
	// partition table: 512, 1024, 2048 or 4096. 0 detects it (for image
	// files, which have none): 4096 when only that finds a GPT, or when
	// only that finds a known filesystem in an MBR's partitions; else 512.
	SectorSize int
	// BlockSize is the granularity of Map.Ranges: every range is widened
	// to whole blocks. A power of two from 512; 0 means 4096.
	BlockSize int64
}

// Table is the kind of partition table a disk holds.
type Table string

// The partition tables Read understands.
const (
	// NoTable: no partition table; the disk is one volume from offset 0
	// (a "superfloppy").
	NoTable Table = "none"
	MBR     Table = "mbr"
	GPT     Table = "gpt"
)

// FS names the filesystem found in a partition. The constants below are the
// ones Read understands, plus Unknown; other detected filesystems are named
// by their blkid name ("ntfs", "iso9660" ...) and mapped whole.
type FS string

// Filesystems.
const (
	// Unknown: no filesystem signature Read knows was found.
	Unknown FS = "unknown"
	FAT12   FS = "fat12"
	FAT16   FS = "fat16"
	FAT32   FS = "fat32"
	ExFAT   FS = "exfat"
	Ext2    FS = "ext2"
	Ext3    FS = "ext3"
	Ext4    FS = "ext4"
)

// Understood reports whether Read maps fs by its allocation (FAT12/16/32,
// exFAT, ext2/3/4) rather than whole.
func (fs FS) Understood() bool {
	switch fs {
	case FAT12, FAT16, FAT32, ExFAT, Ext2, Ext3, Ext4:
		return true
	}
	return false
}

// Map is the allocation map of a disk: what must be copied to reproduce it.
type Map struct {
	Size       int64 // bytes of the disk
	SectorSize int   // logical sector size used to read the partition table
	BlockSize  int64 // granularity of Ranges

	Table Table
	// TableNote says what was wrong with the partition table, or what was
	// unusual about it (a damaged primary GPT, a partition past the end of
	// the disk ...); "" when it read cleanly.
	TableNote string

	// Partitions are the volumes found: the partitions in table order
	// (logical MBR partitions after the primary ones), or the one volume of
	// a disk without a table.
	Partitions []Partition

	// System is the number of bytes mapped for the disk itself rather than
	// for a partition: the partition table, the boot area before the first
	// partition (boot loaders live there), EBRs and the backup GPT.
	System int64

	// Ranges are the bytes to copy: sorted, non-overlapping, not adjacent,
	// each a whole number of blocks (the last one may end at Size). Bytes
	// no range covers are don't-care: nothing on the disk refers to them.
	Ranges []fsimage.Region
}

// Mapped returns the number of bytes Ranges cover.
func (m *Map) Mapped() int64 { return total(m.Ranges) }

// Partition is one volume of the disk and what was mapped of it.
type Partition struct {
	// Number is the partition's number as Linux counts it (sdX1 ...;
	// logical MBR partitions from 5); 0 for the volume of a disk without a
	// partition table and for the extra entries of a hybrid MBR.
	Number int
	// What names the volume for people: "partition 1", "logical
	// partition 5", "the whole disk (no partition table)" ...
	What   string
	Offset int64  // bytes from the start of the disk
	Size   int64  // bytes
	Type   string // MBR type ("0x0c") or GPT type GUID; "" without a table
	Name   string // GPT partition name

	FS FS
	// Whole is true when the volume is mapped whole: its filesystem is not
	// one Read understands, or it is but something in it is inconsistent
	// or unsafe to trust. Reason says which, in a sentence for the operator.
	Whole  bool
	Reason string
	// Mapped is the number of bytes mapped inside the volume (before
	// Ranges are widened to blocks).
	Mapped int64
}

// Read reads the partition table and filesystems of the disk r of size
// bytes and returns its allocation map. It only reads. Anything the disk
// holds that is not understood, is inconsistent or is unsafe to trust is
// mapped whole, with a reason, never an error: the input is an untrusted
// stick. The error is for I/O errors (and invalid options) only.
//
// r must allow reads at any offset and of any length: an image file, or a
// block device opened without O_DIRECT. Read reads little: boot sectors,
// superblocks, partition tables, the FATs, allocation bitmaps and group
// descriptors (for a 64 GB stick, a few MB to a few tens of MB).
func Read(r io.ReaderAt, size int64, opts Options) (*Map, error) {
	if err := opts.check(size); err != nil {
		return nil, err
	}
	d := &disk{r: r, size: size, ss: opts.SectorSize}
	if d.ss == 0 {
		ss, err := detectSectorSize(d)
		if err != nil {
			return nil, err
		}
		d.ss = ss
	}
	t, err := readTable(d)
	if err != nil {
		return nil, err
	}
	m := &Map{Size: size, SectorSize: d.ss, BlockSize: opts.BlockSize, Table: t.kind, TableNote: t.note}
	if m.BlockSize == 0 {
		m.BlockSize = 4096
	}
	system := clipRanges(normalize(t.system), size)
	all := slices.Clone(system)
	m.System = total(system)
	for _, p := range t.parts {
		rs, err := mapPartition(d, &p)
		if err != nil {
			return nil, err
		}
		m.Partitions = append(m.Partitions, p)
		all = append(all, rs...)
	}
	m.Ranges = alignRanges(normalize(all), m.BlockSize, size)
	return m, nil
}

func (o Options) check(size int64) error {
	if size <= 0 {
		return fmt.Errorf("allocmap: disk size %d: want a positive size", size)
	}
	switch o.SectorSize {
	case 0, 512, 1024, 2048, 4096:
	default:
		return fmt.Errorf("allocmap: sector size %d: want 512, 1024, 2048, 4096 or 0 to detect it", o.SectorSize)
	}
	if o.BlockSize != 0 && (o.BlockSize < 512 || o.BlockSize&(o.BlockSize-1) != 0) {
		return fmt.Errorf("allocmap: block size %d: want a power of two from 512, or 0 for 4096", o.BlockSize)
	}
	return nil
}

// mapPartition detects p's filesystem and maps it, filling in p's FS,
// Whole, Reason and Mapped. It returns the ranges (disk offsets) to copy.
func mapPartition(d *disk, p *Partition) ([]fsimage.Region, error) {
	if p.Whole { // decided by the partition table
		p.Mapped = p.Size
		return []fsimage.Region{{Offset: p.Offset, Length: p.Size}}, nil
	}
	v := &volume{d: d, off: p.Offset, size: p.Size}
	fs, mapper, err := detect(v)
	p.FS = fs
	var rs runs
	if err == nil && mapper != nil {
		var name FS
		name, err = mapper(v, &rs)
		if name != "" {
			p.FS = name
		}
	}
	var nu *notUnderstood
	switch {
	case errors.As(err, &nu):
		p.Whole, p.Reason = true, fmt.Sprintf("%s: %s", p.FS, nu.msg)
	case err != nil:
		return nil, fmt.Errorf("%s at offset %d: %w", p.What, p.Offset, err)
	case mapper == nil && fs == Unknown:
		p.Whole, p.Reason = true, "no filesystem flashpipe understands was found"
	case mapper == nil:
		p.Whole, p.Reason = true, fmt.Sprintf("%s: flashpipe does not read this filesystem", fs)
	}
	if p.Whole {
		rs = runs{{Offset: p.Offset, Length: p.Size}}
	}
	out := normalize(rs)
	p.Mapped = total(out)
	return out, nil
}

// runs collects byte ranges in any order; normalize sorts and merges them.
type runs []fsimage.Region

// add appends [off, off+n), merging it into the last range when it
// continues it (the common case: mappers emit ranges in order).
func (rs *runs) add(off, n int64) {
	if n <= 0 {
		return
	}
	if k := len(*rs); k > 0 {
		last := &(*rs)[k-1]
		if off >= last.Offset && off <= last.Offset+last.Length {
			last.Length = max(last.Length, off+n-last.Offset)
			return
		}
	}
	*rs = append(*rs, fsimage.Region{Offset: off, Length: n})
}

// normalize returns rs sorted, with overlapping and adjacent ranges merged.
func normalize(rs []fsimage.Region) []fsimage.Region {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b fsimage.Region) int {
		switch {
		case a.Offset < b.Offset:
			return -1
		case a.Offset > b.Offset:
			return 1
		}
		return 0
	})
	var out runs
	for _, r := range s {
		out.add(r.Offset, r.Length)
	}
	return out
}

// alignRanges widens normalized ranges to whole blocks of bs, clipped to
// size, and merges what then touches.
func alignRanges(rs []fsimage.Region, bs, size int64) []fsimage.Region {
	var out runs
	for _, r := range rs {
		start := r.Offset / bs * bs
		end := min((r.Offset+r.Length+bs-1)/bs*bs, size)
		out.add(start, end-start)
	}
	return out
}

// clipRanges cuts normalized ranges to [0, size).
func clipRanges(rs []fsimage.Region, size int64) []fsimage.Region {
	var out runs
	for _, r := range rs {
		start, end := max(r.Offset, 0), min(r.Offset+r.Length, size)
		out.add(start, end-start)
	}
	return out
}

func total(rs []fsimage.Region) int64 {
	var n int64
	for _, r := range rs {
		n += r.Length
	}
	return n
}
