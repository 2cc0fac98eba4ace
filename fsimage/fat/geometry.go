package fat

import (
	"fmt"

	"github.com/flashpipe/flashpipe/units"
)

// Cluster-count limits, from Microsoft's FAT specification: a FAT16 volume
// has at most 65,524 clusters and a FAT32 volume at least 65,525.
const (
	minClusters16 = 4085
	maxClusters16 = 65524
	minClusters32 = 65525
	maxClusters32 = 0x0FFFFFF5

	reservedSectors32 = 32 // before alignment padding
	reservedSectors16 = 1
	maxClusterSize    = 64 << 10
)

// geometry is where everything sits in the volume, in sectors from its start.
type geometry struct {
	fat32      bool
	sectorSize int
	clusterSz  int
	spc        int64 // sectors per cluster
	totSec     int64
	reserved   int64
	fatSz      int64 // sectors per FAT
	rootEnt    int   // FAT16 root directory entries
	rootSecs   int64 // FAT16 root directory sectors
	dataStart  int64 // first sector of cluster 2
	clusters   int64 // data clusters
}

func (g *geometry) typeName() string {
	if g.fat32 {
		return "FAT32"
	}
	return "FAT16"
}

// clusterOffset returns the byte offset in the volume of cluster c.
func (g *geometry) clusterOffset(c uint32) int64 {
	return g.dataStart*int64(g.sectorSize) + int64(c-2)*int64(g.clusterSz)
}

// layout computes a geometry for totSec sectors. offsetSec is the volume's
// start on the device, used to align the data area to the cluster size.
// clusters is 0 when nothing fits.
func layout(fat32 bool, totSec int64, ss, cs int, offsetSec int64, rootEnt int) geometry {
	g := geometry{fat32: fat32, sectorSize: ss, clusterSz: cs, spc: int64(cs / ss), totSec: totSec}
	base, entSize := int64(reservedSectors32), int64(4)
	if !fat32 {
		base, entSize = reservedSectors16, 2
		g.rootEnt = rootEnt
		g.rootSecs = (int64(rootEnt)*32 + int64(ss) - 1) / int64(ss)
	}
	g.fatSz = 1
	for {
		pre := base + 2*g.fatSz + g.rootSecs
		pad := (g.spc - (offsetSec+pre)%g.spc) % g.spc
		g.reserved = base + pad
		g.dataStart = pre + pad
		if g.dataStart >= totSec {
			g.clusters = 0
			return g
		}
		g.clusters = (totSec - g.dataStart) / g.spc
		need := ((g.clusters+2)*entSize + int64(ss) - 1) / int64(ss)
		if need <= g.fatSz {
			return g
		}
		g.fatSz = need
	}
}

func (g *geometry) valid() bool {
	if g.fat32 {
		return g.clusters >= minClusters32 && g.clusters <= maxClusters32
	}
	return g.clusters >= minClusters16 && g.clusters <= maxClusters16
}

// DefaultClusterSize returns the cluster size Build picks for a volume of
// volumeBytes with the given logical sector size: Windows' FAT32 default
// (see the package comment), or the FAT16 default when the volume is too
// small for FAT32. It assumes a volume that starts on a cluster boundary.
func DefaultClusterSize(volumeBytes int64, sectorSize int) int {
	g, err := chooseGeometry(volumeBytes, sectorSize, 0, 0, 512)
	if err != nil {
		return max(fat32DefaultClusterSize(volumeBytes), sectorSize)
	}
	return g.clusterSz
}

func fat32DefaultClusterSize(size int64) int {
	const mib, gib = 1 << 20, 1 << 30
	switch {
	case size <= 64*mib:
		return 512
	case size <= 128*mib:
		return 1 << 10
	case size <= 256*mib:
		return 2 << 10
	case size <= 8*gib:
		return 4 << 10
	case size <= 16*gib:
		return 8 << 10
	case size <= 32*gib:
		return 16 << 10
	}
	return 32 << 10
}

// fat16DefaultClusterSize follows the FAT16 table of Microsoft's FAT
// specification (fatgen103), for 512-byte sectors.
func fat16DefaultClusterSize(size int64) int {
	const mib = 1 << 20
	switch {
	case size <= 16*mib:
		return 1 << 10
	case size <= 128*mib:
		return 2 << 10
	case size <= 256*mib:
		return 4 << 10
	case size <= 512*mib:
		return 8 << 10
	case size <= 1024*mib:
		return 16 << 10
	}
	return 32 << 10
}

func checkClusterSize(cs, ss int) error {
	if cs&(cs-1) != 0 || cs < 512 || cs > maxClusterSize || cs < ss {
		return fmt.Errorf("fat: cluster size %d is invalid: it must be a power of two from 512 bytes to 64 KiB and at least the %d-byte sector size", cs, ss)
	}
	return nil
}

// chooseGeometry picks FAT32 when the volume holds enough clusters, else
// FAT16. cs is the requested cluster size, 0 for the default. rootEnt16 is
// the number of root directory entries FAT16 would need.
func chooseGeometry(size int64, ss, cs int, offsetSec int64, rootEnt16 int) (geometry, error) {
	totSec := size / int64(ss)
	if totSec > 0xFFFFFFFF {
		return geometry{}, fmt.Errorf("fat: a %s volume has %d sectors of %d bytes; FAT32 addresses at most %d sectors (%s): use exfat",
			units.Bytes(size), totSec, ss, int64(0xFFFFFFFF), units.Bytes(0xFFFFFFFF*int64(ss)))
	}
	userCS := cs != 0
	if !userCS {
		cs = max(fat32DefaultClusterSize(size), ss)
	}
	g := layout(true, totSec, ss, cs, offsetSec, 0)
	for !userCS && g.clusters > maxClusters32 && cs < maxClusterSize {
		cs *= 2
		g = layout(true, totSec, ss, cs, offsetSec, 0)
	}
	if g.valid() {
		return g, nil
	}
	if g.clusters > maxClusters32 {
		return geometry{}, fmt.Errorf("fat: %d-byte clusters are too small for a %s volume: FAT32 allows at most %d clusters", cs, units.Bytes(size), maxClusters32)
	}
	if userCS {
		g = layout(false, totSec, ss, cs, offsetSec, rootEnt16)
		if g.valid() {
			return g, nil
		}
	} else {
		for cs = max(fat16DefaultClusterSize(size), ss); cs >= max(512, ss); cs /= 2 {
			g = layout(false, totSec, ss, cs, offsetSec, rootEnt16)
			if g.valid() {
				return g, nil
			}
		}
		cs = max(512, ss)
	}
	min16 := minimumSize(false, ss, cs, offsetSec, rootEnt16)
	min32 := minimumSize(true, ss, cs, offsetSec, 0)
	if g.clusters > maxClusters16 {
		return geometry{}, fmt.Errorf("fat: %d-byte clusters give a %s volume %d clusters, too many for FAT16 and too few for FAT32 (at least %s); choose a smaller cluster size",
			cs, units.Bytes(size), g.clusters, units.Exact(min32))
	}
	return geometry{}, fmt.Errorf("fat: a %s volume is too small: with %d-byte sectors and %d-byte clusters FAT16 needs at least %s and FAT32 at least %s",
		units.Bytes(size), ss, cs, units.Exact(min16), units.Exact(min32))
}

// minimumSize returns the smallest volume size in bytes that holds the
// minimum cluster count of the FAT type.
func minimumSize(fat32 bool, ss, cs int, offsetSec int64, rootEnt int) int64 {
	ok := func(totSec int64) bool {
		g := layout(fat32, totSec, ss, cs, offsetSec, rootEnt)
		return g.clusters >= minClusters16 && (!fat32 || g.clusters >= minClusters32)
	}
	lo, hi := int64(1), int64(1)<<32 // ok(hi) holds
	for lo < hi {
		mid := lo + (hi-lo)/2
		if ok(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo * int64(ss)
}
