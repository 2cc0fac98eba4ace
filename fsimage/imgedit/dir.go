package imgedit

import (
	"github.com/flashpipe/flashpipe/fsimage/fat"
)

// dir is one FAT folder in memory: its bytes as they are becoming and as
// the image has them, and where they lie.
type dir struct {
	first     uint32   // first cluster; 0 for the fixed root of FAT12/16
	cluster   []uint32 // its chain; nil for the fixed root
	segs      []seg    // where each cluster (or the fixed root) lies
	buf, orig []byte
	limit     int // bytes of buf that hold entries: the fixed root's region may end inside a sector
	ents      []entry
	shorts    map[[11]byte]bool
}

// seg is a piece of a folder: a cluster, or the fixed root region.
type seg struct {
	off   int64 // in the volume
	fresh bool  // given out now: written whole, whatever the image holds
}

// entry is one file or folder a folder lists.
type entry struct {
	name    string // its long name, or its short name
	short   [11]byte
	ntFlags byte
	from    int // byte offset of its first entry (a long-name one, or the short one)
	at      int // byte offset of its short entry
	attr    byte
	cluster uint32
}

// scan lists the folder's files and folders and its short names. Long
// names whose checksum or sequence does not match their short entry are
// ignored, as FAT drivers ignore them.
func (d *dir) scan() {
	d.ents, d.shorts = d.ents[:0], map[[11]byte]bool{}
	var units []uint16
	lfnFrom, want, sum := -1, 0, byte(0)
	for i := 0; i+direntSize <= d.limit; i += direntSize {
		e := d.buf[i : i+direntSize]
		if e[0] == 0x00 {
			return
		}
		if e[0] == 0xE5 {
			lfnFrom = -1
			continue
		}
		if e[11]&0x3F == attrLongName {
			seq, part := fat.LongNamePart(e)
			switch {
			case seq&0x40 != 0 && seq&0x3F != 0:
				lfnFrom, want, sum = i, int(seq&0x3F), e[13]
				units = make([]uint16, want*13)
			case lfnFrom < 0 || int(seq) != want || e[13] != sum:
				lfnFrom = -1
				continue
			}
			want = int(seq&0x3F) - 1
			copy(units[want*13:], part)
			continue
		}
		var short [11]byte
		copy(short[:], e[:11])
		if e[0] == 0x05 {
			short[0] = 0xE5
		}
		d.shorts[short] = true
		from, name := i, fat.ShortName(short, e[12])
		if lfnFrom >= 0 && want == 0 && fat.ShortChecksum(short) == sum {
			from, name = lfnFrom, fat.LongName(units)
		}
		lfnFrom = -1
		if e[11]&attrVolumeID != 0 || name == "." || name == ".." {
			continue
		}
		cl := uint32(e[26]) | uint32(e[27])<<8 | uint32(e[20])<<16 | uint32(e[21])<<24
		d.ents = append(d.ents, entry{name: name, short: short, ntFlags: e[12], from: from, at: i, attr: e[11], cluster: cl})
	}
}

// lookup returns the entry named name, compared as FAT compares names.
func (d *dir) lookup(name string) *entry {
	key := fat.FoldName(name)
	for i := range d.ents {
		e := &d.ents[i]
		if fat.FoldName(e.name) == key || fat.FoldName(fat.ShortName(e.short, 0)) == key {
			return e
		}
	}
	return nil
}

// remove deletes ent's entries (0xE5).
func (d *dir) remove(ent *entry) {
	for i := ent.from; i <= ent.at; i += direntSize {
		d.buf[i] = 0xE5
	}
	d.scan()
}

// put writes ents at byte offset at. Where they take the place of the
// end-of-folder mark, the entry after them, if any, becomes the mark, so
// nothing the folder held past its end shows through.
func (d *dir) put(at int, ents []byte) {
	end := at + len(ents)
	endMark := false
	for i := at; i < end; i += direntSize {
		endMark = endMark || d.buf[i] == 0x00
	}
	copy(d.buf[at:], ents)
	if endMark && end+direntSize <= d.limit && d.buf[end] != 0x00 {
		clear(d.buf[end:d.limit])
	}
	d.scan()
}

// taken reports whether the folder has the short name s.
func (d *dir) taken(s [11]byte) bool { return d.shorts[s] }

// freeRun returns the byte offset of the first run of n free entries,
// or -1.
func (d *dir) freeRun(n int) int {
	run := 0
	for i := 0; i+direntSize <= d.limit; i += direntSize {
		switch d.buf[i] {
		case 0x00:
			if (d.limit-i)/direntSize >= n-run {
				return i - run*direntSize
			}
			return -1
		case 0xE5:
			run++
		default:
			run = 0
		}
		if run == n {
			return i - (n-1)*direntSize
		}
	}
	return -1
}
