package allocmap

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// mapper maps the filesystem of v into rs (disk offsets) and returns its
// precise name. A notUnderstood error maps the volume whole instead.
type mapper func(v *volume, rs *runs) (FS, error)

// signature is a filesystem flashpipe does not read, recognised so that
// the operator learns what was mapped whole (names as blkid gives them).
type signature struct {
	name  FS
	off   int
	magic string
}

var others = []signature{
	{"ntfs", 3, "NTFS    "},
	{"iso9660", 0x8001, "CD001"},
	{"udf", 0x8001, "BEA01"},
	{"btrfs", 0x10040, "_BHRfS_M"},
	{"xfs", 0, "XFSB"},
	{"squashfs", 0, "hsqs"},
	{"crypto_LUKS", 0, "LUKS\xba\xbe"},
	{"swap", 4086, "SWAPSPACE2"},
	{"swap", 4086, "SWAP-SPACE"},
	{"f2fs", 0x400, "\x10\x20\xf5\xf2"},
	{"hfsplus", 0x400, "H+"},
	{"hfsplus", 0x400, "HX"},
}

// headSize is how much of a volume detect reads: enough for every
// signature above.
const headSize = 0x10048

// detect finds the filesystem at the start of v. It returns the mapper of
// a filesystem Read understands, or nil with the name of another one (or
// Unknown). Signatures of two understood filesystems at once are a
// notUnderstood: which one is stale cannot be told.
func detect(v *volume) (FS, mapper, error) {
	head, err := v.read(0, int(min(v.size, headSize)))
	if err != nil {
		return Unknown, nil, err
	}
	var names []FS
	var found mapper
	var foundErr error
	if isExFATBoot(head) {
		names, found = append(names, ExFAT), mapExFAT
	}
	if name, ok := extName(head); ok {
		names, found = append(names, name), mapExt
	}
	if isFATBoot(head) {
		name, err := fatName(head, v.size)
		names, found, foundErr = append(names, name), mapFAT, err
	}
	switch len(names) {
	case 0:
		return otherName(head), nil, nil
	case 1:
		return names[0], found, foundErr
	}
	var s []string
	for _, n := range names {
		s = append(s, string(n))
	}
	return names[0], nil, bad("the volume holds signatures of %s at once; which is current cannot be told", strings.Join(s, " and "))
}

// otherName returns the name of a filesystem flashpipe does not read, or
// Unknown.
func otherName(head []byte) FS {
	for _, s := range others {
		if len(head) >= s.off+len(s.magic) && string(head[s.off:s.off+len(s.magic)]) == s.magic {
			return s.name
		}
	}
	return Unknown
}

func le16(b []byte, off int) uint32 { return uint32(binary.LittleEndian.Uint16(b[off:])) }
func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
func le64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }

func hasAt(b []byte, off int, magic string) bool {
	return len(b) >= off+len(magic) && bytes.Equal(b[off:off+len(magic)], []byte(magic))
}
