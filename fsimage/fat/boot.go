package fat

import "encoding/binary"

const mediaFixed = 0xF8

// bootCode is placed where a boot loader would be: "int 0x18" asks the BIOS
// to try the next boot device, then the CPU halts in a loop.
var bootCode = []byte{0xCD, 0x18, 0xEB, 0xFE}

// putBootSector writes the boot sector into b (one sector).
func putBootSector(b []byte, g *geometry, hidden, serial uint32, label string) {
	le := binary.LittleEndian
	copy(b[3:11], "MSWIN4.1")
	le.PutUint16(b[11:], uint16(g.sectorSize))
	b[13] = byte(g.spc)
	le.PutUint16(b[14:], uint16(g.reserved))
	b[16] = 2 // FATs
	le.PutUint16(b[17:], uint16(g.rootEnt))
	if !g.fat32 && g.totSec < 0x10000 {
		le.PutUint16(b[19:], uint16(g.totSec))
	} else {
		le.PutUint32(b[32:], uint32(g.totSec))
	}
	b[21] = mediaFixed
	le.PutUint16(b[24:], 63)  // sectors per track
	le.PutUint16(b[26:], 255) // heads
	le.PutUint32(b[28:], hidden)

	ext := 36 // extended BPB
	fsType := "FAT16   "
	if g.fat32 {
		le.PutUint32(b[36:], uint32(g.fatSz))
		le.PutUint16(b[40:], 0) // both FATs mirrored
		le.PutUint16(b[42:], 0) // version 0.0
		le.PutUint32(b[44:], 2) // root directory cluster
		le.PutUint16(b[48:], 1) // FSInfo sector
		le.PutUint16(b[50:], 6) // backup boot sector
		ext = 64
		fsType = "FAT32   "
	} else {
		le.PutUint16(b[22:], uint16(g.fatSz))
	}
	code := ext + 26
	b[0], b[1], b[2] = 0xEB, byte(code-2), 0x90
	b[ext] = 0x80   // drive number
	b[ext+2] = 0x29 // extended boot signature
	le.PutUint32(b[ext+3:], serial)
	lab := BootLabel(label)
	copy(b[ext+7:ext+18], lab[:])
	copy(b[ext+18:ext+26], fsType)
	copy(b[code:], bootCode)
	b[510], b[511] = 0x55, 0xAA
}

// putFSInfo writes the FAT32 FSInfo sector into b.
func putFSInfo(b []byte, free, nextFree uint32) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], 0x41615252)
	le.PutUint32(b[484:], 0x61417272)
	le.PutUint32(b[488:], free)
	le.PutUint32(b[492:], nextFree)
	le.PutUint32(b[508:], 0xAA550000)
}
