package imgedit

// FAT12/16/32, from Microsoft's "FAT: General Overview of On-Disk Format":
// the FAT's entries (§4), the FSInfo sector (§5), directory entries and
// long names (§6, §7).

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/flashpipe/flashpipe/fsimage/allocmap"
	"github.com/flashpipe/flashpipe/fsimage/fat"
	"github.com/flashpipe/flashpipe/fsimage/relabel"
	"github.com/flashpipe/flashpipe/units"
)

const (
	direntSize = 32
	// maxDirBytes is the most a FAT directory holds (65536 entries).
	maxDirBytes = 65536 * direntSize
	// maxFATBytes bounds the FAT Patch holds in memory (a FAT32 volume
	// of 16 million clusters).
	maxFATBytes  = 64 << 20
	attrLongName = 0x0F
	attrVolumeID = 0x08
	attrDir      = 0x10
)

// fatEdit is one FAT volume being edited: its first FAT in memory, the
// directories read so far, and the patcher that collects the sectors.
type fatEdit struct {
	p      *relabel.Patcher
	g      *relabel.FATGeometry
	off    int64 // the volume's offset in the image
	kind   allocmap.FS
	cb     int64 // bytes per cluster
	fat    []byte
	orig   []byte // the FAT as the image has it
	free   int64  // free clusters
	cursor uint32 // where the search for a free cluster goes on
	last   uint32 // the last cluster given out; 0: none
	dirs   map[uint32]*dir
	data   content
}

// openFAT reads v's boot sector and its first FAT.
func openFAT(p *relabel.Patcher, r io.ReaderAt, size int64, v *relabel.Volume) (*fatEdit, error) {
	g, err := v.FATGeometry(r, size)
	if err != nil {
		return nil, err
	}
	e := &fatEdit{p: p, g: g, off: v.Offset, kind: v.FS, cb: g.SectorSize * g.SectorsPerCluster, cursor: 2,
		dirs: map[uint32]*dir{}, data: content{p: p}}
	n := g.FATSectors * g.SectorSize
	need := (g.Clusters + 2) * 4
	switch e.kind {
	case allocmap.FAT12:
		need = (g.Clusters+2)*3/2 + 1
	case allocmap.FAT16:
		need = (g.Clusters + 2) * 2
	}
	used := (need + g.SectorSize - 1) / g.SectorSize * g.SectorSize // the sectors that hold the volume's clusters' entries
	switch {
	case used > maxFATBytes:
		return nil, fmt.Errorf("%s: its FAT of %s is larger than the %s flashpipe edits", v, units.Exact(used), units.Exact(maxFATBytes))
	case n < need:
		return nil, fmt.Errorf("%s: its FAT of %d bytes cannot hold %d clusters", v, n, g.Clusters)
	}
	if e.orig, err = e.read(g.FATStart*g.SectorSize, used); err != nil {
		return nil, err
	}
	e.fat = bytes.Clone(e.orig)
	for c := uint32(2); int64(c) < g.Clusters+2; c++ {
		if e.get(c) == 0 {
			e.free++
		}
	}
	return e, nil
}

// read returns n bytes at off inside the volume.
func (e *fatEdit) read(off, n int64) ([]byte, error) { return readAll(e.p, e.off+off, n) }

// get returns cluster c's FAT entry.
func (e *fatEdit) get(c uint32) uint32 {
	le := binary.LittleEndian
	switch e.kind {
	case allocmap.FAT12:
		w := uint32(le.Uint16(e.fat[c*3/2:]))
		if c&1 == 1 {
			return w >> 4
		}
		return w & 0xFFF
	case allocmap.FAT16:
		return uint32(le.Uint16(e.fat[c*2:]))
	}
	return le.Uint32(e.fat[c*4:]) & 0x0FFFFFFF
}

// set sets cluster c's FAT entry to v (FAT32 keeps the entry's top four
// bits, as the specification asks).
func (e *fatEdit) set(c, v uint32) {
	le := binary.LittleEndian
	switch e.kind {
	case allocmap.FAT12:
		w := le.Uint16(e.fat[c*3/2:])
		if c&1 == 1 {
			w = w&0x000F | uint16(v)<<4
		} else {
			w = w&0xF000 | uint16(v)&0xFFF
		}
		le.PutUint16(e.fat[c*3/2:], w)
	case allocmap.FAT16:
		le.PutUint16(e.fat[c*2:], uint16(v))
	default:
		le.PutUint32(e.fat[c*4:], le.Uint32(e.fat[c*4:])&0xF0000000|v&0x0FFFFFFF)
	}
}

// eoc is the end-of-chain mark this FAT writes; isEnd tells any.
func (e *fatEdit) eoc() uint32 {
	switch e.kind {
	case allocmap.FAT12:
		return 0xFFF
	case allocmap.FAT16:
		return 0xFFFF
	}
	return 0x0FFFFFFF
}

func (e *fatEdit) isEnd(v uint32) bool { return v >= e.eoc()&^7 }

// valid reports whether c is a data cluster of the volume.
func (e *fatEdit) valid(c uint32) bool { return c >= 2 && int64(c) < e.g.Clusters+2 }

// chain returns the clusters of the chain that starts at first.
func (e *fatEdit) chain(first uint32, what string) ([]uint32, error) {
	var out []uint32
	for c := first; ; {
		if err := checkLink(c, len(out), e.g.Clusters, what); err != nil {
			return nil, err
		}
		out = append(out, c)
		next := e.get(c)
		switch {
		case e.isEnd(next):
			return out, nil
		case next == 0:
			return nil, fmt.Errorf("%s: its cluster chain runs into free cluster %d", what, c)
		}
		c = next
	}
}

// clusterOff returns the volume offset of cluster c.
func (e *fatEdit) clusterOff(c uint32) int64 {
	return (e.g.DataStart + int64(c-2)*e.g.SectorsPerCluster) * e.g.SectorSize
}

// alloc gives out n free clusters, chained, and returns them.
func (e *fatEdit) alloc(n int64, what string) ([]uint32, error) {
	if n > e.free {
		return nil, fmt.Errorf("%s needs %s (%d clusters of %s) but the volume has %s free",
			what, units.Exact(n*e.cb), n, units.Exact(e.cb), units.Exact(e.free*e.cb))
	}
	out := make([]uint32, 0, n)
	for int64(len(out)) < n {
		c := e.cursor
		e.cursor++
		if !e.valid(e.cursor) {
			e.cursor = 2
		}
		if e.get(c) != 0 {
			continue
		}
		if len(out) > 0 {
			e.set(out[len(out)-1], c)
		}
		e.set(c, e.eoc())
		out = append(out, c)
		e.free--
		e.last = c
	}
	return out, nil
}

// release frees the chain that starts at first.
func (e *fatEdit) release(first uint32, what string) error {
	cs, err := e.chain(first, what)
	if err != nil {
		return err
	}
	for _, c := range cs {
		e.set(c, 0)
		e.free++
	}
	return nil
}

func (e *fatEdit) content() *content { return &e.data }

// folder returns the folder that holds path's last element, made (with
// the folders above it) when it is not there.
func (e *fatEdit) folder(path string, t time.Time) (*dir, string, error) {
	return folderOf(path, t, e.root, e.subdir)
}

// mkdir makes the folder f.Path, or keeps the one there.
func (e *fatEdit) mkdir(f File) error { return mkdirOf(f, e.root, e.subdir) }

// put puts one file into the volume, replacing one of the same name.
func (e *fatEdit) put(f File) (replaced bool, err error) {
	d, name, err := e.folder(f.Path, f.ModTime)
	if err != nil {
		return false, err
	}
	if old := d.lookup(name); old != nil {
		if old.attr&attrDir != 0 {
			return false, fmt.Errorf("the volume has a folder %s there", old.name)
		}
		if old.cluster != 0 {
			if err := e.release(old.cluster, "the file it replaces"); err != nil {
				return false, err
			}
		}
		d.remove(old)
		replaced = true
	}
	size := f.size()
	if size > 1<<32-1 {
		return false, fmt.Errorf("%s is larger than FAT's 4 GiB - 1 byte", units.Exact(size))
	}
	cs, err := e.alloc((size+e.cb-1)/e.cb, "its content of "+units.Exact(size))
	if err != nil {
		return false, err
	}
	var first uint32
	offs := make([]int64, len(cs))
	for i, c := range cs {
		offs[i] = e.off + e.clusterOff(c)
	}
	if len(cs) > 0 {
		first = cs[0]
	}
	if err := e.data.put(&f, offs, e.cb); err != nil {
		return false, err
	}
	ents, err := fat.Entries(name, d.taken, first, uint32(size), f.ModTime, false)
	if err != nil {
		return false, err
	}
	return replaced, e.add(d, ents)
}

// subdir returns the folder name in d, made when it is not there.
func (e *fatEdit) subdir(d *dir, name string, t time.Time) (*dir, error) {
	if ent := d.lookup(name); ent != nil {
		if ent.attr&attrDir == 0 {
			return nil, fmt.Errorf("the volume has a file %s there", ent.name)
		}
		return e.openDir(ent.cluster, name)
	}
	cs, err := e.alloc(1, "a new folder")
	if err != nil {
		return nil, err
	}
	parent := d.first
	if e.kind == allocmap.FAT32 && int64(parent) == e.g.RootCluster {
		parent = 0 // ".." of a first-level folder names the root as 0
	}
	nd := &dir{first: cs[0], buf: make([]byte, e.cb), orig: make([]byte, e.cb), limit: int(e.cb),
		segs: []seg{{off: e.clusterOff(cs[0]), fresh: true}}, cluster: cs}
	copy(nd.buf, fat.DotEntries(cs[0], parent, t))
	nd.scan()
	e.dirs[cs[0]] = nd
	ents, err := fat.Entries(name, d.taken, cs[0], 0, t, true)
	if err != nil {
		return nil, err
	}
	return nd, e.add(d, ents)
}

// add puts the entries ents into the first run of free entries of d
// that holds them, growing d by a cluster where it has none.
func (e *fatEdit) add(d *dir, ents []byte) error {
	at := d.freeRun(len(ents) / direntSize)
	if at < 0 {
		if d.cluster == nil {
			return fmt.Errorf("the root folder has no room for %d more entries (FAT12/16 give it a fixed %d)", len(ents)/direntSize, e.g.RootEntries)
		}
		if int64(len(d.buf))+e.cb > maxDirBytes {
			return fmt.Errorf("the folder would hold more than %d entries", maxDirBytes/direntSize)
		}
		cs, err := e.alloc(1, "growing its folder")
		if err != nil {
			return err
		}
		e.set(d.cluster[len(d.cluster)-1], cs[0])
		d.cluster = append(d.cluster, cs[0])
		d.segs = append(d.segs, seg{off: e.clusterOff(cs[0]), fresh: true})
		d.buf = append(d.buf, make([]byte, e.cb)...)
		d.orig = append(d.orig, make([]byte, e.cb)...)
		d.limit = len(d.buf)
		if at = d.freeRun(len(ents) / direntSize); at < 0 {
			return fmt.Errorf("the folder has no room for %d entries in a cluster of %d bytes", len(ents)/direntSize, e.cb)
		}
	}
	d.put(at, ents)
	return nil
}

// root returns the root folder.
func (e *fatEdit) root() (*dir, error) {
	if e.kind == allocmap.FAT32 {
		return e.openDir(uint32(e.g.RootCluster), "the root folder")
	}
	if d := e.dirs[0]; d != nil {
		return d, nil
	}
	ss := e.g.SectorSize
	off, n := e.g.RootStart*ss, e.g.RootEntries*direntSize
	b, err := e.read(off, (n+ss-1)/ss*ss)
	if err != nil {
		return nil, err
	}
	d := &dir{buf: b, orig: bytes.Clone(b), segs: []seg{{off: off}}, limit: int(n)}
	d.scan()
	e.dirs[0] = d
	return d, nil
}

// openDir reads the folder whose chain starts at first.
func (e *fatEdit) openDir(first uint32, what string) (*dir, error) {
	if d := e.dirs[first]; d != nil {
		return d, nil
	}
	if first == 0 {
		return nil, fmt.Errorf("%s has no cluster", what)
	}
	cs, err := e.chain(first, what)
	if err != nil {
		return nil, err
	}
	if int64(len(cs))*e.cb > maxDirBytes {
		return nil, fmt.Errorf("%s is longer than %d entries", what, maxDirBytes/direntSize)
	}
	d := &dir{first: first, cluster: cs}
	for _, c := range cs {
		b, err := e.read(e.clusterOff(c), e.cb)
		if err != nil {
			return nil, err
		}
		d.buf = append(d.buf, b...)
		d.segs = append(d.segs, seg{off: e.clusterOff(c)})
	}
	d.orig, d.limit = bytes.Clone(d.buf), len(d.buf)
	d.scan()
	e.dirs[first] = d
	return d, nil
}

// flush hands the changed sectors of the folders, the FATs and the
// FSInfo sector to the patcher.
func (e *fatEdit) flush() error {
	ss := e.g.SectorSize
	for _, d := range e.dirs {
		segLen := int64(len(d.buf)) / int64(len(d.segs))
		for i, s := range d.segs {
			if s.fresh { // a cluster given out now: whole, as file data is
				at := int64(i) * segLen
				if err := e.p.Put(e.off+s.off, bytes.Clone(d.buf[at:at+segLen]), "FAT folder"); err != nil {
					return err
				}
				continue
			}
			for o := int64(0); o < segLen; o += ss {
				at := int64(i)*segLen + o
				nb, ob := d.buf[at:at+ss], d.orig[at:at+ss]
				if bytes.Equal(nb, ob) {
					continue
				}
				if err := e.p.Put(e.off+s.off+o, bytes.Clone(nb), "FAT folder"); err != nil {
					return err
				}
			}
		}
	}
	for o := int64(0); o < int64(len(e.fat)); o += ss {
		nb := e.fat[o : o+ss]
		if bytes.Equal(nb, e.orig[o:o+ss]) {
			continue
		}
		for k := int64(0); k < e.g.FATs; k++ {
			at := (e.g.FATStart+k*e.g.FATSectors)*ss + o
			if err := e.p.Put(e.off+at, bytes.Clone(nb), fmt.Sprintf("FAT %d", k+1)); err != nil {
				return err
			}
		}
	}
	return e.flushFSInfo()
}

// flushFSInfo writes the free-cluster count and next-free hint of a
// FAT32 volume's FSInfo sector, where it has a valid one.
func (e *fatEdit) flushFSInfo() error {
	if e.kind != allocmap.FAT32 || e.g.FSInfo == 0 {
		return nil
	}
	le := binary.LittleEndian
	off := e.off + e.g.FSInfo*e.g.SectorSize
	b, err := e.p.Read(off, 512)
	if err != nil {
		return err
	}
	if le.Uint32(b) != 0x41615252 || le.Uint32(b[484:]) != 0x61417272 || le.Uint32(b[508:]) != 0xAA550000 {
		return nil
	}
	free, next := uint32(e.free), le.Uint32(b[492:])
	if e.last != 0 {
		next = e.last
	}
	if le.Uint32(b[488:]) == free && le.Uint32(b[492:]) == next {
		return nil
	}
	le.PutUint32(b[488:], free)
	le.PutUint32(b[492:], next)
	return e.p.Put(off, b, "FAT32 FSInfo sector")
}
