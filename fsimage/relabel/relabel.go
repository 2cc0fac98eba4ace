package relabel

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/allocmap"
)

// Filesystems are the fsimage filesystems whose label rules apply to the
// volumes Patch labels (FAT12/16 and FAT32 take vfat's, ext2/3 ext4's).
var Filesystems = []string{"vfat", "exfat", "ext4"}

// Volume is the volume of a disk image that gets the label.
type Volume struct {
	// Number is the partition's number as Linux counts it (sdX1 ...,
	// logical partitions from 5); 0 for an image without a partition
	// table, whose one volume starts at byte 0.
	Number int
	Offset int64 // bytes from the start of the image
	Size   int64 // bytes
	Type   string
	// FS is the filesystem Identify found: fat12, fat16, fat32, exfat,
	// ext2, ext3 or ext4.
	FS allocmap.FS
}

// String names the volume for messages: "partition 2", or "the image's
// volume (no partition table)".
func (v *Volume) String() string {
	if v.Number == 0 {
		return "the image's volume (no partition table)"
	}
	return fmt.Sprintf("partition %d", v.Number)
}

// Rules returns the fsimage filesystem whose label rules apply to v:
// "vfat", "exfat" or "ext4"; "" before Identify.
func (v *Volume) Rules() string {
	switch v.FS {
	case allocmap.FAT12, allocmap.FAT16, allocmap.FAT32:
		return "vfat"
	case allocmap.ExFAT:
		return "exfat"
	case allocmap.Ext2, allocmap.Ext3, allocmap.Ext4:
		return "ext4"
	}
	return ""
}

// Find reads the partition table of the image r of size bytes and returns
// its partition n: numbered as Linux numbers them, or 0 for an image
// without a partition table. A partition that is not there is an error
// that lists the ones that are. Find reads the table only (sector 0, a
// GPT's primary header and entries, EBRs).
func Find(r io.ReaderAt, size int64, n int) (*Volume, error) {
	table, parts, err := allocmap.Partitions(r, size, 0)
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		if p.Whole || p.Number != n || (n == 0 && p.Offset != 0) {
			continue
		}
		return &Volume{Number: n, Offset: p.Offset, Size: p.Size, Type: p.Type}, nil
	}
	var have []string
	for _, p := range parts {
		if p.Number > 0 && !p.Whole {
			have = append(have, fmt.Sprintf("%d (%d bytes at byte %d, type %s)", p.Number, p.Size, p.Offset, p.Type))
		}
	}
	switch {
	case table == allocmap.NoTable:
		return nil, fmt.Errorf("the image has no partition table, so it has no partition %d: partition 0 is its one volume", n)
	case len(have) == 0:
		return nil, fmt.Errorf("the image's %s partition table lists no partition flashpipe can read", strings.ToUpper(string(table)))
	case n == 0:
		return nil, fmt.Errorf("partition 0 is the volume of an image without a partition table; this image has an %s table with partitions %s",
			strings.ToUpper(string(table)), strings.Join(have, ", "))
	}
	return nil, fmt.Errorf("the image has no partition %d; its %s partition table lists partitions %s",
		n, strings.ToUpper(string(table)), strings.Join(have, ", "))
}

// Identify finds v's filesystem by its signature and reads its boot
// sector or superblock: an error says why v cannot be labelled (another
// filesystem, none, or one whose structures do not add up). r is the image
// of diskSize bytes.
func (v *Volume) Identify(r io.ReaderAt, diskSize int64) error {
	_, err := v.open(&disk{r: r, size: diskSize})
	return err
}

// labeler sets the label of one kind of filesystem.
type labeler interface {
	// set patches label into the volume and returns it as written.
	set(p *Patcher, label string, now time.Time) (string, error)
}

// open identifies v's filesystem and parses what its labeler needs.
func (v *Volume) open(d *disk) (labeler, error) {
	fs, err := allocmap.Detect(d.r, d.size, v.Offset, v.Size)
	var nu *allocmap.NotUnderstoodError
	switch {
	case errors.As(err, &nu):
		return nil, fmt.Errorf("%s holds %s that cannot be labelled: %s", v, nu.FS, nu.Reason)
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", v, err)
	}
	vol := &volume{d: d, off: v.Offset, size: v.Size, name: v.String()}
	var l labeler
	switch fs {
	case allocmap.FAT12, allocmap.FAT16, allocmap.FAT32:
		l, err = parseFAT(vol)
	case allocmap.ExFAT:
		l, err = parseExFAT(vol)
	case allocmap.Ext2, allocmap.Ext3, allocmap.Ext4:
		l, err = parseExt(vol)
	case allocmap.Unknown:
		return nil, fmt.Errorf("%s holds no filesystem flashpipe knows (is it formatted?); a label can be set on FAT12/16/32, exFAT and ext2/3/4 only", v)
	default:
		return nil, fmt.Errorf("%s holds %s; a label can be set on FAT12/16/32, exFAT and ext2/3/4 only", v, fs)
	}
	if err != nil {
		return nil, err
	}
	v.FS = fs
	return l, nil
}

// Result is what Patch lays over an image.
type Result struct {
	// Label is the label as written: upper-cased on FAT.
	Label string
	// Extents are the sectors that change, with their new bytes: Bytes
	// extents at image offsets, sorted, each a multiple of 512 bytes.
	Extents []fsimage.Extent
}

// Patch returns the sectors that give v (of the image r, diskSize bytes)
// the label, stamped now where the filesystem keeps a time. The label
// must keep the filesystem's rules (its builder's CheckLabel). Patch only
// reads r.
func Patch(r io.ReaderAt, diskSize int64, v *Volume, label string, now time.Time) (*Result, error) {
	d := &disk{r: r, size: diskSize}
	l, err := v.open(d)
	if err != nil {
		return nil, err
	}
	p := &Patcher{d: d, blocks: map[int64]*block{}}
	written, err := l.set(p, label, now)
	if err != nil {
		return nil, err
	}
	xs, err := p.Extents()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v, err)
	}
	return &Result{Label: written, Extents: xs}, nil
}

// disk is the image being read.
type disk struct {
	r    io.ReaderAt
	size int64
}

// read returns n bytes at off; bytes outside the image are an error.
func (d *disk) read(off int64, n int64) ([]byte, error) {
	if off < 0 || n < 0 || n > maxRead || off > d.size || n > d.size-off {
		return nil, fmt.Errorf("%d bytes at byte %d lie outside the image's %d bytes", n, off, d.size)
	}
	b := make([]byte, n)
	if _, err := d.r.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("reading %d bytes at byte %d: %w", n, off, err)
	}
	return b, nil
}

// maxRead bounds one read, whatever a structure claims.
const maxRead = 1 << 20

// volume is the part of the image a filesystem lives in.
type volume struct {
	d         *disk
	off, size int64
	name      string // "partition 2"
}

// read returns n bytes at off inside the volume: a structure that points
// outside it is an error naming the volume.
func (v *volume) read(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off > v.size || n > v.size-off {
		return nil, v.errorf("%d bytes at byte %d lie outside its %d bytes", n, off, v.size)
	}
	return v.d.read(v.off+off, n)
}

// errorf returns an error about the volume's filesystem.
func (v *volume) errorf(format string, a ...any) error {
	return fmt.Errorf("%s: %s", v.name, fmt.Sprintf(format, a...))
}

// Patcher collects the blocks an edit of an image changes: a label here,
// files in fsimage/imgedit. It only reads the image.
type Patcher struct {
	d      *disk
	blocks map[int64]*block
}

type block struct {
	data []byte
	what string
}

// NewPatcher returns a Patcher of the image r of size bytes.
func NewPatcher(r io.ReaderAt, size int64) *Patcher {
	return &Patcher{d: &disk{r: r, size: size}, blocks: map[int64]*block{}}
}

// Read returns n bytes at off (image offsets) as the image has them,
// without the patcher's changes; bytes outside the image, or more than
// 1 MiB at once, are an error.
func (p *Patcher) Read(off, n int64) ([]byte, error) { return p.d.read(off, n) }

// Block returns the bytes at off (image offset, n bytes, both multiples
// of 512) for changing: read from the image the first time.
func (p *Patcher) Block(off, n int64, what string) ([]byte, error) {
	if b, ok := p.blocks[off]; ok && int64(len(b.data)) == n {
		return b.data, nil
	}
	data, err := p.d.read(off, n)
	if err != nil {
		return nil, err
	}
	return data, p.Put(off, data, what)
}

// Put sets the bytes at off (image offset, a multiple of 512, inside the
// image) to data, a multiple of 512 bytes, without reading them.
func (p *Patcher) Put(off int64, data []byte, what string) error {
	n := int64(len(data))
	switch {
	case off%512 != 0 || n%512 != 0 || n == 0:
		return fmt.Errorf("%s at byte %d (%d bytes) is not whole 512-byte sectors", what, off, n)
	case off < 0 || off > p.d.size || n > p.d.size-off:
		return fmt.Errorf("%s at byte %d (%d bytes) lies outside the image's %d bytes", what, off, n, p.d.size)
	}
	if b, ok := p.blocks[off]; ok && int64(len(b.data)) != n {
		return fmt.Errorf("%s at byte %d overlaps %s", what, off, b.what)
	}
	p.blocks[off] = &block{data: data, what: what}
	return nil
}

// Extents returns the blocks as sorted Bytes extents; blocks that overlap
// (structures that claim the same bytes) are an error.
func (p *Patcher) Extents() ([]fsimage.Extent, error) {
	var out []fsimage.Extent
	for off, b := range p.blocks {
		out = append(out, fsimage.Extent{Offset: off, Length: int64(len(b.data)), Kind: fsimage.Bytes, Data: b.data, What: b.what})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Offset < out[j].Offset })
	for i := 1; i < len(out); i++ {
		if out[i].Offset < out[i-1].End() {
			return nil, fmt.Errorf("%s at byte %d overlaps %s at byte %d", out[i].What, out[i].Offset, out[i-1].What, out[i-1].Offset)
		}
	}
	return out, nil
}
