package allocmap

// FAT12/16/32, read from Microsoft's "FAT: General Overview of On-Disk
// Format" (the BPB, the count-of-clusters rule) and Linux's fs/fat (FAT32
// is the BPB with a 16-bit FAT size of 0; the dirty flag in the BPB).

// fatVol is a FAT volume's geometry, from its boot sector.
type fatVol struct {
	name     FS
	bps      int64 // bytes per sector
	spc      int64 // sectors per cluster
	rsvd     int64 // reserved sectors (boot sector, FSInfo, backup boot sector)
	nfats    int64
	fatSz    int64 // sectors per FAT
	rootSecs int64 // FAT12/16 root directory sectors
	totSec   int64
	clusters int64
	media    byte
	rootClus int64 // FAT32 root directory cluster
	state    byte  // BPB state byte (bit 0: dirty)
}

// Largest cluster count of each FAT type (as Linux counts: FAT12 up to
// 4084, FAT16 up to 65524; FAT32 entries have 28 bits).
const (
	maxFAT12 = 4084
	maxFAT16 = 65524
	maxFAT32 = 0x0FFFFFF5
)

// isFATBoot reports whether b starts with something shaped like a FAT boot
// sector: a jump, the 0x55AA signature and a BPB whose basic fields are in
// range. NTFS (no FATs) and exFAT (no BPB) fail it.
func isFATBoot(b []byte) bool {
	if len(b) < 512 || !(b[0] == 0xEB && b[2] == 0x90 || b[0] == 0xE9) || b[510] != 0x55 || b[511] != 0xAA {
		return false
	}
	spc := b[13]
	media := b[21]
	return isSectorSize(le16(b, 11)) && spc != 0 && spc&(spc-1) == 0 && le16(b, 14) != 0 && b[16] != 0 &&
		(media == 0xF0 || media >= 0xF8)
}

func isSectorSize(n uint32) bool { return n == 512 || n == 1024 || n == 2048 || n == 4096 }

// fatName returns the FAT type of the boot sector b, or "vfat" with the
// reason it is not understood.
func fatName(b []byte, size int64) (FS, error) {
	f, err := parseFAT(b, size)
	if err != nil {
		return "vfat", err
	}
	return f.name, nil
}

// parseFAT reads and checks the BPB of the boot sector b of a volume of
// size bytes.
func parseFAT(b []byte, size int64) (*fatVol, error) {
	f := &fatVol{bps: int64(le16(b, 11)), spc: int64(b[13]), rsvd: int64(le16(b, 14)), nfats: int64(b[16]), media: b[21]}
	rootEnts := int64(le16(b, 17))
	f.totSec = int64(le16(b, 19))
	if f.totSec == 0 {
		f.totSec = int64(le32(b, 32))
	}
	f.fatSz = int64(le16(b, 22))
	fat32 := f.fatSz == 0
	if fat32 {
		f.fatSz, f.rootClus, f.state = int64(le32(b, 36)), int64(le32(b, 44)), b[65]
	} else {
		f.state = b[37]
	}
	f.rootSecs = (rootEnts*32 + f.bps - 1) / f.bps
	meta := f.rsvd + f.nfats*f.fatSz + f.rootSecs
	switch {
	case f.nfats > 4:
		return nil, bad("the boot sector claims %d FATs", f.nfats)
	case f.totSec*f.bps > size:
		return nil, bad("the boot sector claims %d bytes; the volume has %d", f.totSec*f.bps, size)
	case f.fatSz == 0 || meta >= f.totSec:
		return nil, bad("the boot sector leaves no data area (%d sectors of %d are metadata)", meta, f.totSec)
	case fat32 && rootEnts != 0:
		return nil, bad("a FAT32 boot sector claims %d root directory entries", rootEnts)
	}
	f.clusters = (f.totSec - meta) / f.spc
	limit, bits := int64(maxFAT16), int64(16)
	switch {
	case fat32:
		f.name, limit, bits = FAT32, maxFAT32, 32
	case f.clusters <= maxFAT12:
		f.name, limit, bits = FAT12, maxFAT12, 12
	default:
		f.name = FAT16
	}
	switch {
	case f.clusters < 1 || f.clusters > limit:
		return nil, bad("%d clusters do not fit %s", f.clusters, f.name)
	case f.fatSz*f.bps*8/bits < f.clusters+2:
		return nil, bad("a FAT of %d sectors cannot hold %d clusters", f.fatSz, f.clusters)
	case fat32 && (f.rootClus < 2 || f.rootClus > f.clusters+1):
		return nil, bad("the root directory is at cluster %d of %d", f.rootClus, f.clusters)
	}
	return f, nil
}

// entryBits returns the width of a FAT entry.
func (f *fatVol) entryBits() int64 {
	switch f.name {
	case FAT12:
		return 12
	case FAT16:
		return 16
	}
	return 32
}

// badCluster is the FAT entry value of a cluster marked bad.
func (f *fatVol) badCluster() uint32 {
	switch f.name {
	case FAT12:
		return 0xFF7
	case FAT16:
		return 0xFFF7
	}
	return 0x0FFFFFF7
}

// entry returns FAT entry i of buf, which holds the entries from first.
func (f *fatVol) entry(buf []byte, first, i int64) uint32 {
	switch f.name {
	case FAT12:
		v := le16(buf, int(i*3/2-first*3/2))
		if i%2 == 1 {
			return v >> 4
		}
		return v & 0xFFF
	case FAT16:
		return le16(buf, int(2*(i-first)))
	}
	return le32(buf, int(4*(i-first))) & 0x0FFFFFFF
}

// mapFAT maps a FAT volume: the reserved sectors, every FAT and the
// FAT12/16 root directory whole, then every cluster that any FAT copy
// marks used (bad clusters are not).
func mapFAT(v *volume, rs *runs) (FS, error) {
	b, err := v.read(0, 512)
	if err != nil {
		return "", err
	}
	f, err := parseFAT(b, v.size)
	if err != nil {
		return "", err
	}
	if err := f.checkClean(v); err != nil {
		return f.name, err
	}
	rs.add(v.off, (f.rsvd+f.nfats*f.fatSz+f.rootSecs)*f.bps)
	rootUsed, err := f.mapClusters(v, rs)
	if err != nil {
		return f.name, err
	}
	if f.name == FAT32 && !rootUsed {
		return f.name, bad("the root directory's cluster %d is free in the FAT", f.rootClus)
	}
	return f.name, nil
}

// checkClean refuses a volume that was not cleanly unmounted or has seen
// errors: its FAT may not describe what its directories use. The media
// byte in FAT[0] must match the BPB's, as every formatter writes it.
func (f *fatVol) checkClean(v *volume) error {
	head, err := v.read(f.rsvd*f.bps, 8)
	if err != nil {
		return err
	}
	fat1 := f.entry(head, 0, 1)
	switch {
	case head[0] != f.media:
		return bad("FAT[0] holds media byte %#02x, the boot sector says %#02x", head[0], f.media)
	case f.state&1 != 0:
		return bad("the dirty flag is set: it was not cleanly unmounted (run fsck.fat on the master to map only its used clusters)")
	case f.name == FAT16 && fat1&0x8000 == 0, f.name == FAT32 && fat1&0x08000000 == 0:
		return bad("FAT[1] says it was not cleanly unmounted (run fsck.fat on the master to map only its used clusters)")
	case f.name == FAT16 && fat1&0x4000 == 0, f.name == FAT32 && fat1&0x04000000 == 0:
		return bad("FAT[1] records a disk I/O error")
	}
	return nil
}

// fatChunk is how many FAT entries mapClusters reads from each copy at a
// time (1 MiB of FAT32).
const fatChunk = 1 << 18

// mapClusters adds every cluster used in any FAT copy and reports whether
// the FAT32 root directory's cluster is among them.
func (f *fatVol) mapClusters(v *volume, rs *runs) (rootUsed bool, err error) {
	n := f.clusters + 2
	chunk := int64(fatChunk)
	if f.name == FAT12 {
		chunk = n // FAT12 entries straddle bytes: read the whole (small) FAT
	}
	cb := f.spc * f.bps
	data := v.off + (f.rsvd+f.nfats*f.fatSz+f.rootSecs)*f.bps
	used := make([]bool, chunk)
	for first := int64(0); first < n; first += chunk {
		cnt := min(chunk, n-first)
		clear(used)
		for c := range f.nfats {
			off := (f.rsvd+c*f.fatSz)*f.bps + first*f.entryBits()/8
			buf, err := v.read(off, int((cnt*f.entryBits()+7)/8+1))
			if err != nil {
				return false, err
			}
			for i := max(first, 2); i < first+cnt; i++ {
				if e := f.entry(buf, first, i); e != 0 && e != f.badCluster() {
					used[i-first] = true
				}
			}
		}
		for i := max(first, 2); i < first+cnt; i++ {
			if used[i-first] {
				rs.add(data+(i-2)*cb, cb)
				rootUsed = rootUsed || i == f.rootClus
			}
		}
	}
	return rootUsed, nil
}
