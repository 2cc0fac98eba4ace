package probe

import (
	"bytes"
	"encoding/binary"
)

// Block is the size of a probe block: every block the probe writes says
// where it was written and by which run.
const Block = 4096

// magic starts every probe block.
var magic = [8]byte{'F', 'P', 'P', 'R', 'O', 'B', 'E', 1}

// fillBlock writes the probe block of this run (salt) for offset off into
// b (Block bytes): magic, salt, offset, then a pseudo-random stream seeded
// by both, so no two blocks of a run, and no block of another run, are
// alike.
func fillBlock(b []byte, salt uint64, off int64) {
	copy(b, magic[:])
	binary.LittleEndian.PutUint64(b[8:], salt)
	binary.LittleEndian.PutUint64(b[16:], uint64(off))
	x := salt ^ uint64(off)*0x9e3779b97f4a7c15
	for i := 24; i < Block; i += 8 {
		x += 0x9e3779b97f4a7c15 // splitmix64
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		binary.LittleEndian.PutUint64(b[i:], z^z>>31)
	}
}

// fill writes the probe blocks for [off, off+len(b)) into b.
func fill(b []byte, salt uint64, off int64) {
	for i := 0; i < len(b); i += Block {
		fillBlock(b[i:i+Block], salt, off+int64(i))
	}
}

// Fault says how a probe block failed to read back.
type Fault int

// How a block failed.
const (
	_ Fault = iota
	// Aliased: the block read back as another block of this run — the
	// address wraps onto a lower one.
	Aliased
	// Zeros, Ones, Stale: the write vanished; the block read back as
	// zeros, as 0xff bytes, or as something this run did not write.
	Zeros
	Ones
	Stale
	// Damaged: the block's own header with different content.
	Damaged
	// ReadError and WriteError: the stick failed the I/O.
	ReadError
	WriteError
)

// String says what happened, for the receipt and the board.
func (f Fault) String() string {
	switch f {
	case Aliased:
		return "wraps onto lower addresses"
	case Zeros:
		return "drops writes (reads zeros)"
	case Ones:
		return "drops writes (reads ones)"
	case Stale:
		return "drops writes (reads stale data)"
	case Damaged:
		return "damages data"
	case ReadError:
		return "read error"
	case WriteError:
		return "write error"
	}
	return "no fault"
}

// check compares a block read back at off with what this run wrote
// there. It returns 0 when they match, else the fault and, for Aliased,
// the offset the block was written for.
func check(got, want []byte, salt uint64, off int64) (Fault, int64) {
	if bytes.Equal(got, want) {
		return 0, 0
	}
	if bytes.Equal(got[:8], magic[:]) && binary.LittleEndian.Uint64(got[8:]) == salt {
		if at := int64(binary.LittleEndian.Uint64(got[16:])); at != off {
			return Aliased, at
		}
		return Damaged, 0
	}
	switch {
	case allBytes(got, 0):
		return Zeros, 0
	case allBytes(got, 0xff):
		return Ones, 0
	}
	return Stale, 0
}

func allBytes(b []byte, v byte) bool {
	for _, c := range b {
		if c != v {
			return false
		}
	}
	return true
}
