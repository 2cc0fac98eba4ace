package imgedit

// exFAT, from Microsoft's "exFAT file system specification": the boot
// sector (§3.1), the FAT (§4.1), the allocation bitmap (§7.1), the
// up-case table entry (§7.2), and the File, Stream Extension and File
// Name entries of a file's entry set (§7.4, §7.6, §7.7) with its set
// checksum (§6.3.3).

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"time"
	"unicode/utf16"

	"github.com/flashpipe/flashpipe/fsimage/exfat"
	"github.com/flashpipe/flashpipe/fsimage/relabel"
	"github.com/flashpipe/flashpipe/units"
)

const (
	exTypeBitmap = 0x81
	exTypeUpcase = 0x82
	exTypeFile   = 0x85
	exTypeStream = 0xC0
	exTypeName   = 0xC1
	exAttrDir    = 0x10
	exNoFatChain = 0x02
	exEOC        = 0xFFFFFFFF
	// exMaxDirBytes bounds a folder Patch reads (the specification
	// allows 256 MiB).
	exMaxDirBytes = 8 << 20
)

// exEdit is one exFAT volume being edited: its allocation bitmap in
// memory, the FAT sectors read so far, and the folders.
type exEdit struct {
	p      *relabel.Patcher
	g      *relabel.ExFATGeometry
	off    int64 // the volume's offset in the image
	bitmap []byte
	bmOrig []byte
	bmOff  []int64 // volume offsets of the bitmap's clusters
	free   int64
	fat    map[int64][]byte // FAT sectors by volume offset
	dirty  map[int64]bool
	dirs   map[uint32]*exDir
	data   content
}

// exDir is one exFAT folder in memory.
type exDir struct {
	first     uint32
	cluster   []uint32
	contig    bool // NoFatChain: its clusters follow each other
	fresh     map[int]bool
	buf, orig []byte
	parent    *exDir
	setAt     int // byte offset of its File entry in parent.buf
	ents      []exEntry
}

// exEntry is one file or folder an exFAT folder lists.
type exEntry struct {
	name    string
	key     string // exfat.NameKey
	at, n   int    // byte offset of its File entry, entries in its set
	dir     bool
	first   uint32
	length  uint64
	contig  bool
	setSize int
}

// openExFAT reads v's boot sector, its allocation bitmap and checks its
// up-case table is the one exfat.NameKey uses.
func openExFAT(p *relabel.Patcher, r io.ReaderAt, size int64, v *relabel.Volume) (*exEdit, error) {
	g, err := v.ExFATGeometry(r, size)
	if err != nil {
		return nil, err
	}
	e := &exEdit{p: p, g: g, off: v.Offset, fat: map[int64][]byte{}, dirty: map[int64]bool{}, dirs: map[uint32]*exDir{}, data: content{p: p}}
	root, err := e.openDir(uint32(g.RootCluster), false, 0, nil, 0, "the root folder")
	if err != nil {
		return nil, err
	}
	var bmFirst uint32
	var bmLen uint64
	upcase := false
	for i := 0; i+32 <= len(root.buf) && root.buf[i] != 0; i += 32 {
		b := root.buf[i : i+32]
		switch b[0] {
		case exTypeBitmap:
			if b[1]&1 == 0 { // the first bitmap (a second is TexFAT's)
				bmFirst, bmLen = binary.LittleEndian.Uint32(b[20:]), binary.LittleEndian.Uint64(b[24:])
			}
		case exTypeUpcase:
			if sum := binary.LittleEndian.Uint32(b[4:]); sum != exfat.UpcaseChecksum() {
				return nil, fmt.Errorf("%s: its up-case table (checksum %#x) is not the specification's (%#x); flashpipe cannot hash names for it", v, sum, exfat.UpcaseChecksum())
			}
			upcase = true
		}
	}
	switch {
	case bmFirst == 0:
		return nil, fmt.Errorf("%s: its root folder has no allocation bitmap entry", v)
	case !upcase:
		return nil, fmt.Errorf("%s: its root folder has no up-case table entry", v)
	case bmLen < uint64(g.Clusters+7)/8 || bmLen > maxFATBytes:
		return nil, fmt.Errorf("%s: its allocation bitmap of %d bytes does not fit %d clusters", v, bmLen, g.Clusters)
	}
	cs, err := e.chain(bmFirst, false, (g.Clusters+7)/8, "the allocation bitmap") // the clusters that hold the volume's bits
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		b, err := e.read(e.clusterOff(c), g.ClusterSize)
		if err != nil {
			return nil, err
		}
		e.bitmap = append(e.bitmap, b...)
		e.bmOff = append(e.bmOff, e.clusterOff(c))
	}
	e.bmOrig = bytes.Clone(e.bitmap)
	for c := int64(0); c < g.Clusters; c++ {
		if e.bitmap[c/8]&(1<<(c%8)) == 0 {
			e.free++
		}
	}
	return e, nil
}

// read returns n bytes at off inside the volume.
func (e *exEdit) read(off, n int64) ([]byte, error) { return readAll(e.p, e.off+off, n) }

func (e *exEdit) valid(c uint32) bool { return c >= 2 && int64(c) < e.g.Clusters+2 }

func (e *exEdit) clusterOff(c uint32) int64 { return e.g.Heap + int64(c-2)*e.g.ClusterSize }

// fatSector returns the FAT sector that holds cluster c's entry and the
// entry's offset in it.
func (e *exEdit) fatSector(c uint32) ([]byte, int, error) {
	at := e.g.FAT + int64(c)*4
	sec := at - at%e.g.SectorSize
	if b, ok := e.fat[sec]; ok {
		return b, int(at - sec), nil
	}
	b, err := e.read(sec, e.g.SectorSize)
	if err != nil {
		return nil, 0, err
	}
	e.fat[sec] = b
	return b, int(at - sec), nil
}

func (e *exEdit) get(c uint32) (uint32, error) {
	b, i, err := e.fatSector(c)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[i:]), nil
}

func (e *exEdit) set(c, v uint32) error {
	b, i, err := e.fatSector(c)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(b[i:], v)
	e.dirty[int64(c)*4+e.g.FAT-(int64(c)*4+e.g.FAT)%e.g.SectorSize] = true
	return nil
}

// used reports and setUsed sets cluster c's bit in the allocation bitmap.
func (e *exEdit) used(c uint32) bool { return e.bitmap[(c-2)/8]&(1<<((c-2)%8)) != 0 }

func (e *exEdit) setUsed(c uint32, on bool) {
	if on == e.used(c) {
		return
	}
	if on {
		e.bitmap[(c-2)/8] |= 1 << ((c - 2) % 8)
		e.free--
	} else {
		e.bitmap[(c-2)/8] &^= 1 << ((c - 2) % 8)
		e.free++
	}
}

// chain returns the clusters of length bytes from first: consecutive
// with contig (NoFatChain), else followed through the FAT.
func (e *exEdit) chain(first uint32, contig bool, length int64, what string) ([]uint32, error) {
	n := (length + e.g.ClusterSize - 1) / e.g.ClusterSize
	if !e.valid(first) || n > e.g.Clusters {
		return nil, fmt.Errorf("%s: it starts at cluster %d with %d bytes, outside the volume's clusters 2..%d", what, first, length, e.g.Clusters+1)
	}
	var out []uint32
	if contig {
		if int64(first)+n > e.g.Clusters+2 {
			return nil, fmt.Errorf("%s: its %d clusters from %d run past the volume's end", what, n, first)
		}
		for i := int64(0); i < max(n, 1); i++ {
			out = append(out, first+uint32(i))
		}
		return out, nil
	}
	for c := first; ; {
		if err := checkLink(c, len(out), e.g.Clusters, what); err != nil {
			return nil, err
		}
		out = append(out, c)
		next, err := e.get(c)
		if err != nil {
			return nil, err
		}
		if next == exEOC || (length > 0 && int64(len(out)) >= n) {
			return out, nil
		}
		c = next
	}
}

// alloc gives out n clusters: a contiguous run where there is one
// (NoFatChain), else the first free ones chained in the FAT.
func (e *exEdit) alloc(n int64, what string) ([]uint32, bool, error) {
	if n > e.free {
		return nil, false, fmt.Errorf("%s needs %s (%d clusters of %s) but the volume has %s free",
			what, units.Exact(n*e.g.ClusterSize), n, units.Exact(e.g.ClusterSize), units.Exact(e.free*e.g.ClusterSize))
	}
	if n == 0 {
		return nil, true, nil
	}
	run := int64(0)
	for c := uint32(2); int64(c) < e.g.Clusters+2; c++ {
		if e.used(c) {
			run = 0
			continue
		}
		if run++; run == n {
			var out []uint32
			for k := c + 1 - uint32(n); k <= c; k++ {
				e.setUsed(k, true)
				out = append(out, k)
			}
			return out, true, nil
		}
	}
	var out []uint32
	for c := uint32(2); int64(len(out)) < n; c++ {
		if e.used(c) {
			continue
		}
		e.setUsed(c, true)
		if len(out) > 0 {
			if err := e.set(out[len(out)-1], c); err != nil {
				return nil, false, err
			}
		}
		out = append(out, c)
	}
	return out, false, e.set(out[len(out)-1], exEOC)
}

// release frees the clusters of a file.
func (e *exEdit) release(ent *exEntry) error {
	if ent.first == 0 {
		return nil
	}
	cs, err := e.chain(ent.first, ent.contig, int64(ent.length), "the file it replaces")
	if err != nil {
		return err
	}
	for _, c := range cs {
		e.setUsed(c, false)
		if !ent.contig {
			if err := e.set(c, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// openDir reads the folder at first (length bytes; 0 follows the FAT
// chain to its end, as for the root folder).
func (e *exEdit) openDir(first uint32, contig bool, length int64, parent *exDir, setAt int, what string) (*exDir, error) {
	if d := e.dirs[first]; d != nil {
		return d, nil
	}
	cs, err := e.chain(first, contig, length, what)
	if err != nil {
		return nil, err
	}
	if int64(len(cs))*e.g.ClusterSize > exMaxDirBytes {
		return nil, fmt.Errorf("%s is larger than the %s flashpipe reads", what, units.Exact(exMaxDirBytes))
	}
	d := &exDir{first: first, cluster: cs, contig: contig, parent: parent, setAt: setAt, fresh: map[int]bool{}}
	for _, c := range cs {
		b, err := e.read(e.clusterOff(c), e.g.ClusterSize)
		if err != nil {
			return nil, err
		}
		d.buf = append(d.buf, b...)
	}
	d.orig = bytes.Clone(d.buf)
	d.scan()
	e.dirs[first] = d
	return d, nil
}

// scan lists the folder's files and folders: entry sets whose checksum
// holds and whose entries are what the specification says.
func (d *exDir) scan() {
	d.ents = d.ents[:0]
	le := binary.LittleEndian
	for i := 0; i+32 <= len(d.buf); i += 32 {
		t := d.buf[i]
		if t == 0 {
			return
		}
		if t != exTypeFile {
			continue
		}
		n := int(d.buf[i+1]) + 1
		if n < 3 || i+n*32 > len(d.buf) {
			continue
		}
		set := d.buf[i : i+n*32]
		s := set[32:64]
		if s[0] != exTypeStream || exfat.SetChecksum(set) != le.Uint16(set[2:]) {
			continue
		}
		nameLen := int(s[3])
		var name []uint16
		for k := 2; k < n; k++ {
			ne := set[k*32 : k*32+32]
			if ne[0] != exTypeName {
				break
			}
			for j := 0; j < 15 && len(name) < nameLen; j++ {
				name = append(name, le.Uint16(ne[2+2*j:]))
			}
		}
		if len(name) != nameLen {
			continue
		}
		d.ents = append(d.ents, exEntry{name: string(utf16.Decode(name)), key: exfat.NameKey(name), at: i, n: n,
			dir: le.Uint16(set[4:])&exAttrDir != 0, first: le.Uint32(s[20:]), length: le.Uint64(s[24:]), contig: s[1]&exNoFatChain != 0})
		i += (n - 1) * 32
	}
}

func (d *exDir) lookup(name string) *exEntry {
	key := exfat.NameKey(utf16.Encode([]rune(name)))
	for i := range d.ents {
		if d.ents[i].key == key {
			return &d.ents[i]
		}
	}
	return nil
}

// freeRun returns the byte offset of the first n unused entries in a row.
func (d *exDir) freeRun(n int) int {
	run := 0
	for i := 0; i+32 <= len(d.buf); i += 32 {
		switch t := d.buf[i]; {
		case t == 0:
			if (len(d.buf)-i)/32 >= n-run {
				return i - run*32
			}
			return -1
		case t&0x80 == 0:
			run++
		default:
			run = 0
		}
		if run == n {
			return i - (n-1)*32
		}
	}
	return -1
}

// put writes an entry set at byte offset at, keeping the end mark after
// it where it took the mark's place.
func (d *exDir) put(at int, set []byte) {
	end := at + len(set)
	endMark := false
	for i := at; i < end; i += 32 {
		endMark = endMark || d.buf[i] == 0
	}
	copy(d.buf[at:], set)
	if endMark && end < len(d.buf) && d.buf[end] != 0 {
		clear(d.buf[end:])
	}
	d.scan()
}

func (e *exEdit) content() *content { return &e.data }

// root opens the root folder.
func (e *exEdit) root() (*exDir, error) {
	return e.openDir(uint32(e.g.RootCluster), false, 0, nil, 0, "the root folder")
}

// folder returns the folder that holds path's last element, made (with
// the folders above it) when it is not there.
func (e *exEdit) folder(path string, t time.Time) (*exDir, string, error) {
	return folderOf(path, t, e.root, e.subdir)
}

// mkdir makes the folder f.Path, or keeps the one there.
func (e *exEdit) mkdir(f File) error { return mkdirOf(f, e.root, e.subdir) }

// put puts one file into the volume, replacing one of the same name.
func (e *exEdit) put(f File) (bool, error) {
	d, name, err := e.folder(f.Path, f.ModTime)
	if err != nil {
		return false, err
	}
	replaced := false
	if old := d.lookup(name); old != nil {
		if old.dir {
			return false, fmt.Errorf("the volume has a folder %s there", old.name)
		}
		if err := e.release(old); err != nil {
			return false, err
		}
		for k := 0; k < old.n; k++ {
			d.buf[old.at+k*32] &^= 0x80
		}
		d.scan()
		replaced = true
	}
	size := f.size()
	cs, contig, err := e.alloc((size+e.g.ClusterSize-1)/e.g.ClusterSize, "its content of "+units.Exact(size))
	if err != nil {
		return false, err
	}
	offs := make([]int64, len(cs))
	for i, c := range cs {
		offs[i] = e.off + e.clusterOff(c)
	}
	if err := e.data.put(&f, offs, e.g.ClusterSize); err != nil {
		return false, err
	}
	var first uint32
	if len(cs) > 0 {
		first = cs[0]
	}
	set, err := exfat.FileEntries(name, false, first, uint64(size), contig && size > 0, f.ModTime)
	if err != nil {
		return false, err
	}
	return replaced, e.add(d, set)
}

// subdir returns the folder name in d, made when it is not there.
func (e *exEdit) subdir(d *exDir, name string, t time.Time) (*exDir, error) {
	if ent := d.lookup(name); ent != nil {
		if !ent.dir {
			return nil, fmt.Errorf("the volume has a file %s there", ent.name)
		}
		return e.openDir(ent.first, ent.contig, int64(ent.length), d, ent.at, name)
	}
	cs, _, err := e.alloc(1, "a new folder")
	if err != nil {
		return nil, err
	}
	if err := e.set(cs[0], exEOC); err != nil { // folders are FAT chains, as Build makes them
		return nil, err
	}
	set, err := exfat.FileEntries(name, true, cs[0], uint64(e.g.ClusterSize), false, t)
	if err != nil {
		return nil, err
	}
	if err := e.add(d, set); err != nil {
		return nil, err
	}
	ent := d.lookup(name)
	nd := &exDir{first: cs[0], cluster: cs, parent: d, setAt: ent.at, fresh: map[int]bool{0: true},
		buf: make([]byte, e.g.ClusterSize), orig: make([]byte, e.g.ClusterSize)}
	e.dirs[cs[0]] = nd
	return nd, nil
}

// add puts an entry set into d, growing d by a cluster where it has no
// room.
func (e *exEdit) add(d *exDir, set []byte) error {
	at := d.freeRun(len(set) / 32)
	if at < 0 {
		if err := e.grow(d); err != nil {
			return err
		}
		if at = d.freeRun(len(set) / 32); at < 0 {
			return fmt.Errorf("the folder has no room for %d entries in a cluster of %d bytes", len(set)/32, e.g.ClusterSize)
		}
	}
	d.put(at, set)
	return nil
}

// grow adds a cluster to d: its chain goes into the FAT (a NoFatChain
// folder gets one), and its parent's entry set the new length.
func (e *exEdit) grow(d *exDir) error {
	if int64(len(d.buf))+e.g.ClusterSize > exMaxDirBytes {
		return fmt.Errorf("the folder would be larger than %s", units.Exact(exMaxDirBytes))
	}
	cs, _, err := e.alloc(1, "growing its folder")
	if err != nil {
		return err
	}
	if d.contig {
		for i := 0; i+1 < len(d.cluster); i++ {
			if err := e.set(d.cluster[i], d.cluster[i+1]); err != nil {
				return err
			}
		}
	}
	if err := e.set(d.cluster[len(d.cluster)-1], cs[0]); err != nil {
		return err
	}
	if err := e.set(cs[0], exEOC); err != nil {
		return err
	}
	d.fresh[len(d.cluster)] = true
	d.cluster = append(d.cluster, cs[0])
	d.buf = append(d.buf, make([]byte, e.g.ClusterSize)...)
	d.orig = append(d.orig, make([]byte, e.g.ClusterSize)...)
	if d.parent == nil {
		return nil // the root folder has no entry: its length is its chain's
	}
	p := d.parent
	n := int(p.buf[d.setAt+1]) + 1
	set := p.buf[d.setAt : d.setAt+n*32]
	s := set[32:64]
	s[1] &^= exNoFatChain
	length := uint64(len(d.buf))
	binary.LittleEndian.PutUint64(s[8:], length)
	binary.LittleEndian.PutUint64(s[24:], length)
	binary.LittleEndian.PutUint16(set[2:], exfat.SetChecksum(set))
	d.contig = false
	p.scan()
	return nil
}

// flush hands the changed sectors of the folders, the FAT and the
// allocation bitmap to the patcher.
func (e *exEdit) flush() error {
	ss, cb := e.g.SectorSize, e.g.ClusterSize
	for _, d := range e.dirs {
		for i, c := range d.cluster {
			at := int64(i) * cb
			if d.fresh[i] {
				if err := e.p.Put(e.off+e.clusterOff(c), bytes.Clone(d.buf[at:at+cb]), "exFAT folder"); err != nil {
					return err
				}
				continue
			}
			for o := int64(0); o < cb; o += ss {
				if nb := d.buf[at+o : at+o+ss]; !bytes.Equal(nb, d.orig[at+o:at+o+ss]) {
					if err := e.p.Put(e.off+e.clusterOff(c)+o, bytes.Clone(nb), "exFAT folder"); err != nil {
						return err
					}
				}
			}
		}
	}
	for sec := range e.dirty {
		if err := e.p.Put(e.off+sec, bytes.Clone(e.fat[sec]), "exFAT FAT"); err != nil {
			return err
		}
	}
	for i, off := range e.bmOff {
		for o := int64(0); o < cb; o += ss {
			at := int64(i)*cb + o
			if nb := e.bitmap[at : at+ss]; !bytes.Equal(nb, e.bmOrig[at:at+ss]) {
				if err := e.p.Put(e.off+off+o, bytes.Clone(nb), "exFAT allocation bitmap"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
