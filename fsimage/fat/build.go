package fat

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
)

// Build lays out a FAT32 filesystem (FAT16 when the volume is too small for
// FAT32's minimum cluster count, or an error giving the minimum size)
// holding vol.Entries in the byte range vol.Offset..vol.Offset+vol.Size of
// the device. It reads no file contents.
//
// The returned extents use device offsets and are sorted. Every non-empty
// file is one FileData extent and one FileRun. Names FAT cannot hold, names
// that collide case-insensitively in a directory and files of 4 GiB or more
// give a *fsimage.BadNamesError listing every such path; content that does
// not fit gives a *fsimage.NoSpaceError. See the package comment for the
// policies (cluster size, time stamps in UTC, aliases, label).
func Build(vol fsimage.Volume) (*fsimage.Layout, error) {
	ss := vol.SectorSize
	if ss < 512 || ss > 4096 || ss&(ss-1) != 0 {
		return nil, fmt.Errorf("fat: sector size %d is not supported; use 512 or 4096", ss)
	}
	if vol.Offset < 0 || vol.Offset%int64(ss) != 0 {
		return nil, fmt.Errorf("fat: volume offset %d is not a multiple of the %d-byte sector size", vol.Offset, ss)
	}
	if vol.Offset/int64(ss) > 0xFFFFFFFF {
		return nil, fmt.Errorf("fat: volume offset %d is beyond the 2^32 sectors FAT can record as hidden sectors", vol.Offset)
	}
	if vol.ClusterSize != 0 {
		if err := checkClusterSize(vol.ClusterSize, ss); err != nil {
			return nil, err
		}
	}
	label, err := CheckLabel(vol.Label)
	if err != nil {
		return nil, err
	}
	t, err := buildTree(vol.Entries, label != "")
	if err != nil {
		return nil, err
	}
	perSector := ss / direntSize
	rootEnt := (max(512, t.root.slots) + perSector - 1) / perSector * perSector
	g, err := chooseGeometry(vol.Size, ss, vol.ClusterSize, vol.Offset/int64(ss), rootEnt)
	if err != nil {
		return nil, err
	}
	if !g.fat32 && rootEnt > 0xFFFF {
		return nil, fmt.Errorf("fat: the root directory needs %d entries; a FAT16 root directory holds at most 65535: use a larger volume for FAT32", t.root.slots)
	}
	b := &builder{vol: vol, g: &g, t: t, label: label}
	if err := b.allocate(); err != nil {
		return nil, err
	}
	if err := t.assignAliases(); err != nil {
		return nil, err
	}
	return b.emit(), nil
}

// builder holds the state of one Build.
type builder struct {
	vol   fsimage.Volume
	g     *geometry
	t     *tree
	label string
	next  int64 // first unallocated cluster
	ext   []fsimage.Extent
	files []fsimage.FileRun
}

// allocate gives every directory and non-empty file its cluster run, in
// Entries order after the FAT32 root; generated files and folders come
// last, so that the shared content's runs do not move between sticks (a
// folder's size does not depend on its generated entries' names either:
// see generatedSlots).
func (b *builder) allocate() error {
	cs := int64(b.g.clusterSz)
	b.next = 2
	alloc := func(n *node, bytes int64) {
		n.cluster = b.next
		n.nclust = max(1, (bytes+cs-1)/cs)
		b.next += n.nclust
	}
	if b.g.fat32 {
		alloc(b.t.root, int64(b.t.root.slots)*direntSize)
	}
	for i := 1; i < len(b.t.nodes); i++ {
		switch n := &b.t.nodes[i]; {
		case n.e.Generated:
		case n.e.Dir:
			alloc(n, int64(n.slots)*direntSize)
		case n.e.Size > 0:
			alloc(n, n.e.Size)
		}
	}
	for i := 1; i < len(b.t.nodes); i++ {
		switch n := &b.t.nodes[i]; {
		case !n.e.Generated:
		case n.e.Dir:
			alloc(n, int64(n.slots)*direntSize)
		case n.e.Size > 0:
			alloc(n, n.e.Size)
		}
	}
	if used := b.next - 2; used > b.g.clusters {
		return &fsimage.NoSpaceError{
			What:      b.g.typeName() + " volume",
			Needed:    b.vol.Size + (used-b.g.clusters)*cs,
			Available: b.vol.Size,
		}
	}
	return nil
}

func (b *builder) add(off int64, kind fsimage.ExtentKind, data []byte, length int64, what string) {
	b.ext = append(b.ext, fsimage.Extent{Offset: b.vol.Offset + off, Length: length, Kind: kind, Data: data, What: what})
}

// emit produces the extents in device order.
func (b *builder) emit() *fsimage.Layout {
	g, ss := b.g, int64(b.g.sectorSize)
	n := 0
	for i := range b.t.nodes {
		if b.t.nodes[i].nclust > 0 || i == 0 {
			n++
		}
	}
	b.ext = make([]fsimage.Extent, 0, n+8)
	b.emitReserved()
	b.emitFATs()
	if !g.fat32 {
		root := make([]byte, g.rootSecs*ss)
		b.putDir(b.t.root, root)
		b.add((g.reserved+2*g.fatSz)*ss, fsimage.Bytes, root, int64(len(root)), "root dir")
	}
	for i := range b.t.nodes {
		n := &b.t.nodes[i]
		if n.nclust == 0 {
			continue
		}
		off := g.clusterOffset(uint32(n.cluster))
		if !n.isDir() {
			b.ext = append(b.ext, fsimage.Extent{Offset: b.vol.Offset + off, Length: n.e.Size, Kind: fsimage.FileData, Entry: n.e, What: n.e.Path})
			b.files = append(b.files, fsimage.FileRun{Entry: n.e, Offset: b.vol.Offset + off})
			continue
		}
		buf := make([]byte, n.nclust*int64(g.clusterSz))
		b.putDir(n, buf)
		what := "root dir"
		if n.e != nil {
			what = "dir /" + n.e.Path
		}
		b.add(off, fsimage.Bytes, buf, int64(len(buf)), what)
	}
	return &fsimage.Layout{Extents: b.ext, Files: b.files, Label: b.label, Variant: strings.ToLower(g.typeName())}
}

// emitReserved adds the boot sector, FSInfo, their backups (FAT32) and the
// rest of the reserved area as zeros.
func (b *builder) emitReserved() {
	g, ss := b.g, b.g.sectorSize
	hidden := uint32(b.vol.Offset / int64(ss))
	used := int64(1)
	if g.fat32 {
		used = 8
	}
	buf := make([]byte, used*int64(ss))
	putBootSector(buf[:ss], g, hidden, b.vol.Serial, b.label)
	if g.fat32 {
		free := uint32(g.clusters - (b.next - 2))
		nextFree := uint32(0xFFFFFFFF)
		if b.next < g.clusters+2 {
			nextFree = uint32(b.next)
		}
		putFSInfo(buf[ss:2*ss], free, nextFree)
		copy(buf[6*ss:], buf[:2*ss])
	}
	what := g.typeName() + " boot sector"
	if g.fat32 {
		what = "FAT32 boot sectors and FSInfo"
	}
	b.add(0, fsimage.Bytes, buf, int64(len(buf)), what)
	if rest := g.reserved - used; rest > 0 {
		b.add(used*int64(ss), fsimage.Zero, nil, rest*int64(ss), "reserved sectors")
	}
}

// emitFATs adds both FATs: the used part as bytes, the free tail as zeros.
func (b *builder) emitFATs() {
	g, ss := b.g, int64(b.g.sectorSize)
	entSize := int64(2)
	eoc := uint32(0xFFFF)
	if g.fat32 {
		entSize, eoc = 4, 0x0FFFFFFF
	}
	fat := make([]byte, min((b.next*entSize+ss-1)/ss*ss, g.fatSz*ss))
	put := func(c int64, v uint32) {
		if g.fat32 {
			binary.LittleEndian.PutUint32(fat[c*4:], v)
		} else {
			binary.LittleEndian.PutUint16(fat[c*2:], uint16(v))
		}
	}
	put(0, eoc&^0xFF|mediaFixed)
	put(1, eoc)
	for i := range b.t.nodes {
		n := &b.t.nodes[i]
		for c := n.cluster; c < n.cluster+n.nclust-1; c++ {
			put(c, uint32(c+1))
		}
		if n.nclust > 0 {
			put(n.cluster+n.nclust-1, eoc)
		}
	}
	for i := int64(0); i < 2; i++ {
		off := (g.reserved + i*g.fatSz) * ss
		what := fmt.Sprintf("fat #%d", i+1)
		b.add(off, fsimage.Bytes, fat, int64(len(fat)), what)
		if free := g.fatSz*ss - int64(len(fat)); free > 0 {
			b.add(off+int64(len(fat)), fsimage.Zero, nil, free, what+" free part")
		}
	}
}

// putDir writes directory d's entries into buf, which is zero.
func (b *builder) putDir(d *node, buf []byte) {
	pos := 0
	put := func(de dirent) {
		de.put(buf[pos : pos+direntSize])
		pos += direntSize
	}
	if d.e == nil {
		if b.label != "" {
			e := LabelEntry(b.label, b.vol.Now)
			copy(buf[pos:], e[:])
			pos += direntSize
		}
	} else {
		parent := d.parent.cluster
		if d.parent.e == nil {
			parent = 0 // ".." of a first-level directory names the root as 0
		}
		put(dirent{name: packShort(".", ""), attr: attrDirectory, cluster: uint32(d.cluster), time: b.modTime(d)})
		put(dirent{name: packShort("..", ""), attr: attrDirectory, cluster: uint32(parent), time: b.modTime(d)})
	}
	for _, c := range d.children {
		if c.lfn > 0 {
			putLFN(buf[pos:pos+c.lfn*direntSize], c.name, c.short.checksum())
			pos += c.lfn * direntSize
		}
		de := dirent{name: c.short, attr: attrArchive, ntFlags: c.ntFlags, cluster: uint32(c.cluster), time: b.modTime(c)}
		if c.e.Dir {
			de.attr = attrDirectory
		} else {
			de.size = uint32(c.e.Size)
		}
		put(de)
	}
}

// modTime is the entry's modification time, or vol.Now for entries that
// have none (directories the destination made up).
func (b *builder) modTime(n *node) time.Time {
	if n.e.ModTime.IsZero() {
		return b.vol.Now
	}
	return n.e.ModTime
}
