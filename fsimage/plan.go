// Package fsimage compiles a profile's content into a write plan: the exact
// bytes of a stick's partition table and filesystem metadata plus each file's
// data laid out contiguously, as an ordered list of extents. The executor
// streams a plan to a device sequentially and verifies it by reading back.
//
// Builders (fsimage/fat, fsimage/exfat, fsimage/ptable, fsimage/ext4) only
// produce extents; none of them reads file contents. Bytes of the device that
// no extent covers are "don't care": a writer may leave them alone or write
// zeros there, and verification ignores them.
package fsimage

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"time"
)

// ExtentKind says where an extent's bytes come from. The zero value is invalid.
type ExtentKind int

const (
	kindInvalid ExtentKind = iota
	// Bytes extents carry their content in Extent.Data.
	Bytes
	// FileData extents are a range of a source file (Extent.Source from
	// Extent.SourceOffset, Extent.Length bytes).
	FileData
	// Zero extents must read back as zeros.
	Zero
	// ReaderData extents are read from Extent.Reader from
	// Extent.SourceOffset: a disk image decompressed into a cache that may
	// still be filling (package diskimage), whose reads wait for the bytes.
	ReaderData
)

// DataSource is where ReaderData extents come from. ReadAtContext fills p
// from off, waiting until those bytes are ready or ctx ends; it returns
// len(p) or an error.
type DataSource interface {
	ReadAtContext(ctx context.Context, p []byte, off int64) (int, error)
}

func (k ExtentKind) String() string {
	switch k {
	case Bytes:
		return "bytes"
	case FileData:
		return "file"
	case Zero:
		return "zero"
	case ReaderData:
		return "reader"
	}
	return fmt.Sprintf("ExtentKind(%d)", int(k))
}

// Extent is one run of bytes on the device.
type Extent struct {
	Offset int64 // byte offset on the device
	Length int64 // bytes; > 0
	Kind   ExtentKind

	Data []byte // Bytes: len(Data) == Length

	// FileData: the manifest entry whose data this is, and where in it the
	// extent starts. Entry.Source is the path to read.
	Entry        *Entry
	SourceOffset int64 // FileData and ReaderData: where in the source the extent starts

	Reader DataSource // ReaderData: where its bytes come from

	// What names what the extent holds, for messages: "mbr", "gpt backup",
	// "fat32 boot sector", "fat #1", "dir /docs", a file path ...
	What string
}

// End returns the offset one past the extent's last byte.
func (e Extent) End() int64 { return e.Offset + e.Length }

// FileRun records where a regular file's data sits on the device, so that
// verification can SHA1 that run and compare with the manifest.
type FileRun struct {
	Entry  *Entry
	Offset int64 // byte offset on the device of the file's first byte
	// The file occupies [Offset, Offset+Entry.Size). Empty files have no run
	// and are not listed.
}

// Region is a byte range on the device.
type Region struct {
	Offset int64
	Length int64
}

// Plan is everything that must be written to one device.
type Plan struct {
	DeviceSize int64 // capacity of the target in bytes
	SectorSize int   // logical sector size of the target (512 or 4096)

	Extents []Extent  // sorted by Offset, non-overlapping
	Files   []FileRun // sorted by Offset

	Partition Region // where the filesystem lives (whole device for superfloppy)
	FS        string // the Filesystem's Name ("vfat"), or "" when none
	Mount     Mount  // how the kernel mounts it, for verify { mount = true }
	Label     string // volume label as written
	Serial    uint32 // volume serial as written (FAT/exFAT)

	// Cleanup, when set, releases temporary files the plan refers to (ext4
	// images). Callers call it once after the last use of the plan.
	Cleanup func() error
}

// Bytes returns the number of bytes the plan's extents cover.
func (p *Plan) Bytes() int64 {
	var n int64
	for _, e := range p.Extents {
		n += e.Length
	}
	return n
}

// Check returns an error if the plan's extents are unsorted, overlap, are
// empty, lie outside the device, or are internally inconsistent. It panics on
// nothing: a bad plan is a program bug, but callers report it as an error.
func (p *Plan) Check() error {
	var prevEnd int64
	for i, e := range p.Extents {
		switch {
		case e.Length <= 0:
			return fmt.Errorf("extent %d (%s) has length %d", i, e.What, e.Length)
		case e.Offset < prevEnd:
			return fmt.Errorf("extent %d (%s) at %d overlaps or precedes the previous one ending at %d", i, e.What, e.Offset, prevEnd)
		case p.DeviceSize > 0 && e.End() > p.DeviceSize:
			return fmt.Errorf("extent %d (%s) ends at %d, past the device's %d bytes", i, e.What, e.End(), p.DeviceSize)
		case e.Kind == Bytes && int64(len(e.Data)) != e.Length:
			return fmt.Errorf("extent %d (%s) has %d bytes of data for length %d", i, e.What, len(e.Data), e.Length)
		case e.Kind == FileData && e.Entry == nil:
			return fmt.Errorf("extent %d (%s) is file data without an entry", i, e.What)
		case e.Kind == ReaderData && e.Reader == nil:
			return fmt.Errorf("extent %d (%s) is reader data without a reader", i, e.What)
		case e.Kind != Bytes && e.Kind != FileData && e.Kind != Zero && e.Kind != ReaderData:
			return fmt.Errorf("extent %d (%s) has invalid kind %v", i, e.What, e.Kind)
		}
		prevEnd = e.End()
	}
	return nil
}

// SortExtents sorts extents by offset.
func SortExtents(xs []Extent) {
	sort.Slice(xs, func(i, j int) bool { return xs[i].Offset < xs[j].Offset })
}

// Entry is one file or directory of the content, as recorded in a manifest.
type Entry struct {
	// Path is the slash-separated path inside the target filesystem,
	// relative to its root, e.g. "docs/Readme.txt". Never empty, no leading
	// or trailing slash, no "." or ".." elements.
	Path    string
	Source  string // absolute path of the source on the host ("" for directories made up by the destination folder)
	Dir     bool
	Size    int64 // bytes; 0 for directories
	Mode    fs.FileMode
	ModTime time.Time
	SHA1    [20]byte // of the file's content; zero for directories
	Inode   uint64   // of the source, for the hash cache
	// ChangeTime is the source's status change time (ctime), for the hash
	// cache: writing a file changes it even when its size stays and its
	// modification time is set back (touch -r). Zero when unknown.
	ChangeTime time.Time
	// Generated marks a file made for one stick (step "file"). Builders
	// lay generated files out after every other entry's data, so a
	// profile's shared content sits at the same place on every stick and
	// only the generated files' runs and the metadata differ.
	Generated bool
	// Data holds a generated file's bytes when it has no Source: a
	// plan's FileData extents of such an entry are turned into Bytes
	// extents (InlineData) before anything reads them.
	Data []byte
}

// InlineData turns the plan's FileData extents of entries whose bytes are
// in memory (Entry.Data) into Bytes extents, so that writers and verify
// never open a source for them.
func (p *Plan) InlineData() {
	for i := range p.Extents {
		e := &p.Extents[i]
		if e.Kind == FileData && e.Entry.Data != nil {
			e.Kind, e.Data = Bytes, e.Entry.Data[e.SourceOffset:e.SourceOffset+e.Length]
		}
	}
}

// Differs compares what stat says of e's source now with the entry: it
// returns "" when size and modification time (if the entry has one) are
// the entry's, else what differs, e.g. "size is 12 bytes, manifest says
// 10". Writers check it before and after reading a source.
func (e *Entry) Differs(fi fs.FileInfo) string {
	if fi.Size() != e.Size {
		return fmt.Sprintf("size is %d bytes, manifest says %d", fi.Size(), e.Size)
	}
	if !e.ModTime.IsZero() && !fi.ModTime().Equal(e.ModTime) {
		return fmt.Sprintf("modified %s, manifest says %s", fi.ModTime().Format(time.RFC3339Nano), e.ModTime.Format(time.RFC3339Nano))
	}
	return ""
}

// CountFiles returns how many of entries are files, empty ones included,
// and their total size: the content, whatever filesystem holds it.
func CountFiles(entries []*Entry) (files int, size int64) {
	for _, e := range entries {
		if !e.Dir {
			files++
			size += e.Size
		}
	}
	return files, size
}

// Volume is what a filesystem builder is asked to build.
type Volume struct {
	Offset      int64 // byte offset of the filesystem on the device
	Size        int64 // bytes available to the filesystem
	SectorSize  int   // logical sector size: 512 or 4096
	ClusterSize int   // bytes; 0 picks the filesystem's default for Size
	Label       string
	Serial      uint32 // volume serial number; per stick
	// Entries is the content: directories and files, sorted by Path, each
	// directory listed before its children. Parent directories of every
	// entry are present.
	Entries []*Entry
	// Now is the time written where a filesystem needs one that no entry
	// gives (volume creation, the root directory).
	Now time.Time
	// TempDir is where a builder that makes an image first (ext4) keeps
	// it; "" means os.TempDir().
	TempDir string
}

// Layout is what a filesystem or partition-table builder returns.
type Layout struct {
	Extents []Extent  // sorted, non-overlapping, all inside the volume
	Files   []FileRun // every non-empty regular file
	Label   string    // the label as actually written (after upper-casing etc.)
	// Variant is the form of the filesystem as built, where a builder
	// picks one by size: "fat16" or "fat32" for vfat; "" for the others.
	// The partition table's type follows it (Filesystem.Variants).
	Variant string
	// Cleanup, when set, releases temporary files the extents refer to
	// (ext4's image); it becomes the Plan's Cleanup.
	Cleanup func() error
}
