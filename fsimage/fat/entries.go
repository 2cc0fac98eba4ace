package fat

import (
	"fmt"
	"time"
	"unicode/utf16"
)

// The directory entries of one file or folder, as Build writes them, for
// fsimage/imgedit, which adds files to a FAT volume someone else made.

// Entries returns the directory entries of a file (or, dir, a folder)
// named name: its long-name entries, when it needs them, then its short
// entry. taken reports whether a short name (11 bytes, as stored) is used
// in the directory already; the short name is made as Build makes it
// (the name itself when it is a plain 8.3 name, else an alias with a
// numeric tail). cluster is the first cluster (0: none), size the bytes
// of a file.
func Entries(name string, taken func([11]byte) bool, cluster, size uint32, t time.Time, dir bool) ([]byte, error) {
	if why := checkLongName(name); why != "" {
		return nil, fmt.Errorf("%q cannot be a FAT name: %s", name, why)
	}
	if name == "." || name == ".." {
		return nil, fmt.Errorf("%q cannot be a FAT name", name)
	}
	de := dirent{attr: attrArchive, cluster: cluster, size: size, time: t}
	if dir {
		de.attr, de.size = attrDirectory, 0
	}
	short, flags, plain := plainShort(name)
	if plain && !taken(short) {
		de.name, de.ntFlags = short, flags
		b := make([]byte, direntSize)
		de.put(b)
		return b, nil
	}
	s, err := freeAlias(name, taken)
	if err != nil {
		return nil, err
	}
	de.name = s
	n := lfnSlots(utf16Len(name))
	b := make([]byte, (n+1)*direntSize)
	putLFN(b[:n*direntSize], name, s.checksum())
	de.put(b[n*direntSize:])
	return b, nil
}

// freeAlias returns the short name of a long name: its basis when that
// loses nothing but case and is free, else the basis with the first free
// numeric tail.
func freeAlias(name string, taken func([11]byte) bool) (shortName, error) {
	base, ext, lossy := aliasBasis(name)
	if s := packShort(base, ext); !lossy && !taken(s) {
		return s, nil
	}
	for n := 1; n <= 999999; n++ {
		if s := withTail(base, ext, n); !taken(s) {
			return s, nil
		}
	}
	return shortName{}, fmt.Errorf("no free 8.3 alias for %q", name)
}

// DotEntries returns the "." and ".." entries that begin a folder at
// cluster whose parent folder starts at parent (0 for the root).
func DotEntries(cluster, parent uint32, t time.Time) []byte {
	b := make([]byte, 2*direntSize)
	(&dirent{name: packShort(".", ""), attr: attrDirectory, cluster: cluster, time: t}).put(b)
	(&dirent{name: packShort("..", ""), attr: attrDirectory, cluster: parent, time: t}).put(b[direntSize:])
	return b
}

// ShortName returns the name a short entry's 11 bytes stand for, with
// its NT case flags (byte 12 of the entry) applied: "README.TXT",
// "readme.txt".
func ShortName(b [11]byte, ntFlags byte) string {
	s := shortName(b)
	base, ext := []byte(s[:8]), []byte(s[8:])
	lower := func(p []byte) {
		for i, c := range p {
			if c >= 'A' && c <= 'Z' {
				p[i] = c + 'a' - 'A'
			}
		}
	}
	if ntFlags&ntLowerBase != 0 {
		lower(base)
	}
	if ntFlags&ntLowerExt != 0 {
		lower(ext)
	}
	copy(s[:8], base)
	copy(s[8:], ext)
	return s.String()
}

// LongNamePart returns the sequence number (1-based, 0x40 on the last
// part) and the UTF-16 units of one long-name entry.
func LongNamePart(e []byte) (seq byte, units []uint16) {
	for _, off := range lfnOffsets {
		units = append(units, uint16(e[off])|uint16(e[off+1])<<8)
	}
	return e[0], units
}

// LongName decodes the UTF-16 units of a long name, up to its NUL.
func LongName(units []uint16) string {
	for i, u := range units {
		if u == 0 {
			units = units[:i]
			break
		}
	}
	return string(utf16.Decode(units))
}

// FoldName is the key under which FAT compares names: case-insensitively.
func FoldName(name string) string { return foldName(name) }

// ShortChecksum is the checksum long-name entries carry of their short
// entry's 11 name bytes.
func ShortChecksum(b [11]byte) byte { return shortName(b).checksum() }
