package exfat

import (
	"encoding/binary"
	"time"
)

// Directory entry types (§7).
const (
	typeBitmap  = 0x81
	typeUpcase  = 0x82
	typeLabel   = 0x83
	typeFile    = 0x85
	typeStream  = 0xC0
	typeName    = 0xC1
	entrySize   = 32
	namePerEnt  = 15 // code units per File Name entry
	attrDir     = 0x10
	attrArchive = 0x20

	flagAllocationPossible = 0x01
	flagNoFatChain         = 0x02

	utcOffsetValidZero = 0x80 // OffsetValid set, offset 0: the time is UTC
)

// setEntries returns the number of directory entries a file with a name of n
// code units needs: File, Stream Extension and File Name entries.
func setEntries(n int) int {
	return 2 + (n+namePerEnt-1)/namePerEnt
}

// fileSet is what a File entry set records.
type fileSet struct {
	name         []uint16
	dir          bool
	mtime        time.Time
	firstCluster uint32
	dataLength   uint64
	noFatChain   bool
}

// appendFileSet appends the File, Stream Extension and File Name entries of
// f to b, with the set checksum filled in.
func appendFileSet(b []byte, t *upcase, f *fileSet) []byte {
	start := len(b)
	n := setEntries(len(f.name))
	b = append(b, make([]byte, n*entrySize)...)
	e := b[start:]

	e[0] = typeFile
	e[1] = byte(n - 1)
	attr := uint16(attrArchive)
	if f.dir {
		attr = attrDir
	}
	binary.LittleEndian.PutUint16(e[4:], attr)
	ts, cs := timestamp(f.mtime)
	for _, off := range []int{8, 12, 16} { // created, modified, accessed
		binary.LittleEndian.PutUint32(e[off:], ts)
	}
	e[20], e[21] = cs, cs // 10 ms increments of created and modified
	e[22], e[23], e[24] = utcOffsetValidZero, utcOffsetValidZero, utcOffsetValidZero

	s := e[entrySize:]
	s[0] = typeStream
	if f.firstCluster != 0 || f.dataLength != 0 {
		s[1] = flagAllocationPossible
		if f.noFatChain {
			s[1] |= flagNoFatChain
		}
	}
	s[3] = byte(len(f.name))
	binary.LittleEndian.PutUint16(s[4:], nameHash(t, f.name))
	binary.LittleEndian.PutUint64(s[8:], f.dataLength) // ValidDataLength
	binary.LittleEndian.PutUint32(s[20:], f.firstCluster)
	binary.LittleEndian.PutUint64(s[24:], f.dataLength)

	for i := 0; i < n-2; i++ {
		ne := e[(2+i)*entrySize:]
		ne[0] = typeName
		part := f.name[i*namePerEnt:]
		if len(part) > namePerEnt {
			part = part[:namePerEnt]
		}
		for j, u := range part {
			binary.LittleEndian.PutUint16(ne[2+2*j:], u)
		}
	}
	binary.LittleEndian.PutUint16(e[2:], setChecksum(e[:n*entrySize]))
	return b
}

// setChecksum is the SetChecksum of §6.3.3 over a whole entry set, skipping
// the checksum field itself.
func setChecksum(set []byte) uint16 {
	var sum uint16
	for i, x := range set {
		if i == 2 || i == 3 {
			continue
		}
		sum = (sum>>1 | sum<<15) + uint16(x)
	}
	return sum
}

// timestamp encodes t (in UTC) as an exFAT timestamp and its
// 10 ms increment (0–199), as the File directory entry's timestamp fields
// hold them. Times outside 1980–2107 are clamped.
func timestamp(t time.Time) (uint32, uint8) {
	t = t.UTC()
	switch {
	case t.Year() < 1980:
		t = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	case t.Year() > 2107:
		t = time.Date(2107, 12, 31, 23, 59, 59, 990_000_000, time.UTC)
	}
	ts := uint32(t.Year()-1980)<<25 | uint32(t.Month())<<21 | uint32(t.Day())<<16 |
		uint32(t.Hour())<<11 | uint32(t.Minute())<<5 | uint32(t.Second()/2)
	cs := uint8(t.Second()%2*100 + t.Nanosecond()/10_000_000)
	return ts, cs
}

// LabelEntry returns the Volume Label directory entry for label (empty
// or not), or why exFAT cannot hold it: the entry Build writes, and the
// one fsimage/relabel puts into an image.
func LabelEntry(label string) ([entrySize]byte, error) {
	units, err := CheckLabel(label)
	if err != nil {
		return [entrySize]byte{}, err
	}
	return labelEntry(units), nil
}

// labelEntry is the Volume Label entry for the UTF-16 label (at most 11
// units): its type, character count and characters.
func labelEntry(label []uint16) [entrySize]byte {
	var e [entrySize]byte
	e[0] = typeLabel
	e[1] = byte(len(label))
	for i, u := range label {
		binary.LittleEndian.PutUint16(e[2+2*i:], u)
	}
	return e
}

// appendRootEntries appends the root directory's critical entries: the
// volume label, the allocation bitmap and the up-case table. An empty label
// still gets its entry, with no characters, as mkfs.exfat writes it
// (exfatlabel fails on a volume without one).
func appendRootEntries(b []byte, label []uint16, bitmapCluster uint32, bitmapLen uint64, t *upcase, upcaseCluster uint32) []byte {
	l := labelEntry(label)
	b = append(b, l[:]...)

	e := make([]byte, entrySize)
	e[0] = typeBitmap
	binary.LittleEndian.PutUint32(e[20:], bitmapCluster)
	binary.LittleEndian.PutUint64(e[24:], bitmapLen)
	b = append(b, e...)

	e = make([]byte, entrySize)
	e[0] = typeUpcase
	binary.LittleEndian.PutUint32(e[4:], t.checksum)
	binary.LittleEndian.PutUint32(e[20:], upcaseCluster)
	binary.LittleEndian.PutUint64(e[24:], uint64(len(t.raw)))
	return append(b, e...)
}
