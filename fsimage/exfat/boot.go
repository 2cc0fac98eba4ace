package exfat

import (
	"encoding/binary"
	"math/bits"
)

// bootSectors is the number of sectors in one boot region (§3): boot sector,
// 8 extended boot sectors, OEM parameters, a reserved sector and the boot
// checksum sector.
const bootSectors = 12

// geometry is the volume's layout, in the units the boot sector uses.
type geometry struct {
	sectorSize   int
	clusterSize  int
	partOffset   uint64 // sectors from the start of the device
	volSectors   uint64
	fatOffset    uint32 // sectors
	fatLength    uint32 // sectors
	heapOffset   uint32 // sectors
	clusterCount uint32
	rootCluster  uint32
	serial       uint32
	percentInUse uint8
}

// clusterOffset returns the byte offset in the volume of cluster c.
func (g *geometry) clusterOffset(c uint32) int64 {
	return int64(g.heapOffset)*int64(g.sectorSize) + int64(c-2)*int64(g.clusterSize)
}

// bootRegion returns the 12 sectors of a boot region for g.
func bootRegion(g *geometry) []byte {
	ss := g.sectorSize
	b := make([]byte, bootSectors*ss)
	bs := b[:ss]
	copy(bs[0:], []byte{0xEB, 0x76, 0x90})
	copy(bs[3:], "EXFAT   ")
	le := binary.LittleEndian
	le.PutUint64(bs[64:], g.partOffset)
	le.PutUint64(bs[72:], g.volSectors)
	le.PutUint32(bs[80:], g.fatOffset)
	le.PutUint32(bs[84:], g.fatLength)
	le.PutUint32(bs[88:], g.heapOffset)
	le.PutUint32(bs[92:], g.clusterCount)
	le.PutUint32(bs[96:], g.rootCluster)
	le.PutUint32(bs[100:], g.serial)
	le.PutUint16(bs[104:], 0x0100) // FileSystemRevision 1.00
	le.PutUint16(bs[106:], 0)      // VolumeFlags: FAT #0 active, clean
	bs[108] = byte(bits.TrailingZeros(uint(ss)))
	bs[109] = byte(bits.TrailingZeros(uint(g.clusterSize / ss)))
	bs[110] = 1    // NumberOfFats
	bs[111] = 0x80 // DriveSelect
	bs[112] = g.percentInUse
	for i := 120; i < 510; i++ {
		bs[i] = 0xF4 // BootCode: hlt
	}
	bs[510], bs[511] = 0x55, 0xAA

	for s := 1; s <= 8; s++ { // extended boot sectors: signature only
		le.PutUint32(b[(s+1)*ss-4:], 0xAA550000)
	}
	// Sector 9 (OEM parameters) and 10 (reserved) stay zero.
	sum := bootChecksum(b[:11*ss])
	for i := 11 * ss; i < 12*ss; i += 4 {
		le.PutUint32(b[i:], sum)
	}
	return b
}

// bootChecksum is the boot region checksum of §3.4 over sectors 0–10,
// skipping VolumeFlags and PercentInUse, which change without the checksum
// being rewritten.
func bootChecksum(b []byte) uint32 {
	var sum uint32
	for i, x := range b {
		if i == 106 || i == 107 || i == 112 {
			continue
		}
		sum = (sum>>1 | sum<<31) + uint32(x)
	}
	return sum
}
