package fat

import (
	"encoding/binary"
	"time"
	"unicode/utf16"
)

const direntSize = 32

// Directory entry attributes.
const (
	attrVolumeID  = 0x08
	attrDirectory = 0x10
	attrArchive   = 0x20
	attrLongName  = 0x0F
)

var (
	minFATTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	maxFATTime = time.Date(2107, 12, 31, 23, 59, 59, 0, time.UTC)
)

// fatTime converts t to FAT's date and time (in UTC, see the package
// comment) and the creation time's 10 ms units (0..199).
func fatTime(t time.Time) (date, tm uint16, tenth byte) {
	t = t.UTC()
	switch {
	case t.Before(minFATTime):
		t = minFATTime
	case t.After(maxFATTime):
		t = maxFATTime
	}
	date = uint16(t.Year()-1980)<<9 | uint16(t.Month())<<5 | uint16(t.Day())
	tm = uint16(t.Hour())<<11 | uint16(t.Minute())<<5 | uint16(t.Second()/2)
	tenth = byte(t.Second()%2*100 + t.Nanosecond()/10_000_000)
	return date, tm, tenth
}

// dirent is the content of one short directory entry.
type dirent struct {
	name    shortName
	attr    byte
	ntFlags byte
	cluster uint32
	size    uint32
	time    time.Time
}

func (d *dirent) put(b []byte) {
	le := binary.LittleEndian
	copy(b[0:11], d.name[:])
	b[11] = d.attr
	b[12] = d.ntFlags
	date, tm, tenth := fatTime(d.time)
	b[13] = tenth
	le.PutUint16(b[14:], tm)   // creation time
	le.PutUint16(b[16:], date) // creation date
	le.PutUint16(b[18:], date) // last access date
	le.PutUint16(b[20:], uint16(d.cluster>>16))
	le.PutUint16(b[22:], tm) // write time
	le.PutUint16(b[24:], date)
	le.PutUint16(b[26:], uint16(d.cluster))
	le.PutUint32(b[28:], d.size)
}

// lfnSlots is the number of long-name entries a name of n UTF-16 units needs.
func lfnSlots(n int) int { return (n + 12) / 13 }

// lfnOffsets are where the 13 UTF-16 units of a long-name entry sit.
var lfnOffsets = [13]int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30}

// putLFN writes the long-name entries for name into b, which holds exactly
// lfnSlots entries, last part first as the format requires.
func putLFN(b []byte, name string, sum byte) {
	var units [maxLongName + 1]uint16
	u := units[:0]
	for _, r := range name {
		u = utf16.AppendRune(u, r)
	}
	n := lfnSlots(len(u))
	for i := 0; i < n; i++ {
		e := b[(n-1-i)*direntSize:][:direntSize]
		e[0] = byte(i + 1)
		if i == n-1 {
			e[0] |= 0x40
		}
		for k, off := range lfnOffsets {
			var c uint16 = 0xFFFF
			switch idx := i*13 + k; {
			case idx < len(u):
				c = u[idx]
			case idx == len(u):
				c = 0
			}
			binary.LittleEndian.PutUint16(e[off:], c)
		}
		e[11] = attrLongName
		e[12] = 0
		e[13] = sum
		e[26], e[27] = 0, 0
	}
}
