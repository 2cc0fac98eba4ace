package allocmap

// exFAT, read from Microsoft's "exFAT file system specification": the
// main boot region and its checksum, the FAT for cluster chains, the root
// directory's Allocation Bitmap and Up-case Table entries. The Allocation
// Bitmap, not the FAT, says which clusters are in use (files written
// contiguously have no FAT chain).

// exfatVol is an exFAT volume's geometry, from its main boot sector.
type exfatVol struct {
	bps      int64 // bytes per sector
	cb       int64 // bytes per cluster
	volLen   int64 // sectors
	fatOff   int64 // sectors
	fatLen   int64 // sectors
	heapOff  int64 // sectors
	clusters int64
	root     int64
	nfats    int64
	flags    uint32

	fatCache    []byte // one sector of the active FAT, for chains
	fatCacheOff int64
}

// Volume flags of the boot sector.
const (
	exfatActiveFAT   = 1 << 0
	exfatDirty       = 1 << 1
	exfatMediaFailed = 1 << 2
)

// Directory entry types and FAT values.
const (
	exfatBitmapEntry = 0x81
	exfatUpcaseEntry = 0x82
	exfatEOC         = 0xFFFFFFFF
	// exfatMaxDir is the largest directory the specification allows.
	exfatMaxDir = 256 << 20
	// exfatPiece bounds a single read of a cluster (clusters reach 32 MiB).
	exfatPiece = 1 << 20
)

func isExFATBoot(b []byte) bool { return hasAt(b, 3, "EXFAT   ") }

// parseExFAT reads and checks the main boot sector b of a volume of size
// bytes.
func parseExFAT(b []byte, size int64) (*exfatVol, error) {
	if !(b[0] == 0xEB && b[1] == 0x76 && b[2] == 0x90) || !isZero(b[11:64]) || b[510] != 0x55 || b[511] != 0xAA {
		return nil, bad("the boot sector is malformed (jump, zero BPB area or signature)")
	}
	bpss, spcs := int64(b[108]), int64(b[109])
	if bpss < 9 || bpss > 12 || spcs > 25-bpss {
		return nil, bad("the boot sector claims 2^%d-byte sectors and 2^%d sectors per cluster", bpss, spcs)
	}
	e := &exfatVol{bps: 1 << bpss, volLen: int64(min(le64(b, 72), 1<<62)), fatOff: int64(le32(b, 80)),
		fatLen: int64(le32(b, 84)), heapOff: int64(le32(b, 88)), clusters: int64(le32(b, 92)),
		root: int64(le32(b, 96)), flags: le16(b, 106), nfats: int64(b[110])}
	e.cb = e.bps << spcs
	switch {
	case e.volLen > size/e.bps:
		return nil, bad("the boot sector claims %d sectors of %d bytes; the volume has %d bytes", e.volLen, e.bps, size)
	case e.nfats != 1 && e.nfats != 2:
		return nil, bad("the boot sector claims %d FATs", e.nfats)
	case e.fatOff < 24 || e.fatLen*e.bps/4 < e.clusters+2:
		return nil, bad("the FAT (sector %d, %d sectors) cannot hold %d clusters", e.fatOff, e.fatLen, e.clusters)
	case e.fatOff+e.nfats*e.fatLen > e.heapOff:
		return nil, bad("the FATs overlap the cluster heap at sector %d", e.heapOff)
	case e.clusters > 0xFFFFFFF5 || e.heapOff+e.clusters*(e.cb/e.bps) > e.volLen:
		return nil, bad("%d clusters from sector %d do not fit the volume's %d sectors", e.clusters, e.heapOff, e.volLen)
	case e.root < 2 || e.root > e.clusters+1:
		return nil, bad("the root directory is at cluster %d of %d", e.root, e.clusters)
	}
	return e, nil
}

// checkBoot verifies the main boot region's checksum (sector 11 repeats
// the checksum of sectors 0-10, VolumeFlags and PercentInUse left out) and
// refuses a volume that was not cleanly unmounted.
func (e *exfatVol) checkBoot(v *volume) error {
	region, err := v.read(0, int(12*e.bps))
	if err != nil {
		return err
	}
	var sum uint32
	for i, c := range region[:11*e.bps] {
		if i == 106 || i == 107 || i == 112 {
			continue
		}
		sum = (sum<<31 | sum>>1) + uint32(c)
	}
	for i := 11 * e.bps; i < 12*e.bps; i += 4 {
		if le32(region, int(i)) != sum {
			return bad("the main boot region fails its checksum")
		}
	}
	switch {
	case e.flags&exfatDirty != 0:
		return bad("the volume is marked dirty: it was not cleanly unmounted (run fsck.exfat on the master to map only its used clusters)")
	case e.flags&exfatMediaFailed != 0:
		return bad("the volume is marked as having had media failures")
	}
	return nil
}

// clusterOff returns the volume offset of cluster c.
func (e *exfatVol) clusterOff(c int64) int64 { return e.heapOff*e.bps + (c-2)*e.cb }

// fatEntry returns the active FAT's entry for cluster c.
func (e *exfatVol) fatEntry(v *volume, c int64) (uint32, error) {
	fat := e.fatOff
	if e.nfats == 2 && e.flags&exfatActiveFAT != 0 {
		fat += e.fatLen
	}
	off := fat*e.bps + c*4
	sector := off / e.bps * e.bps
	if e.fatCache == nil || e.fatCacheOff != sector {
		b, err := v.read(sector, int(e.bps))
		if err != nil {
			return 0, err
		}
		e.fatCache, e.fatCacheOff = b, sector
	}
	return le32(e.fatCache, int(off-sector)), nil
}

// chain follows the FAT from cluster first and returns its clusters; a
// chain that leaves the heap, holds a free or bad entry, or is longer
// than limit clusters (or than the heap: it loops) is a notUnderstood.
func (e *exfatVol) chain(v *volume, what string, first, limit int64) ([]int64, error) {
	var cs []int64
	limit = min(limit, e.clusters)
	for c := first; ; {
		switch {
		case c < 2 || c > e.clusters+1:
			return nil, bad("the %s's cluster chain reaches cluster %d, outside the heap", what, c)
		case int64(len(cs)) >= limit:
			return nil, bad("the %s's cluster chain is longer than %d clusters", what, limit)
		}
		cs = append(cs, c)
		next, err := e.fatEntry(v, c)
		if err != nil {
			return nil, err
		}
		if next == exfatEOC {
			return cs, nil
		}
		c = int64(next)
	}
}

// read calls fn with the first length bytes held by the clusters cs, in
// pieces of at most exfatPiece bytes (a multiple of 32); fn returns false
// to stop.
func (e *exfatVol) read(v *volume, cs []int64, length int64, fn func([]byte) bool) error {
	for _, c := range cs {
		for off := int64(0); off < e.cb && length > 0; off += exfatPiece {
			n := min(exfatPiece, e.cb-off, length)
			b, err := v.read(e.clusterOff(c)+off, int(n))
			if err != nil {
				return err
			}
			length -= n
			if !fn(b) {
				return nil
			}
		}
	}
	return nil
}

// addClusters maps the clusters cs.
func (e *exfatVol) addClusters(v *volume, rs *runs, cs []int64) {
	for _, c := range cs {
		rs.add(v.off+e.clusterOff(c), e.cb)
	}
}

// exfatObject is a system file the root directory lists: an allocation
// bitmap or the up-case table.
type exfatObject struct {
	typ    byte
	which  byte // allocation bitmap: 0 for the first FAT's, 1 for the second's
	first  int64
	length int64
}

// mapExFAT maps an exFAT volume: everything before the cluster heap (boot
// regions, FATs), the root directory, the allocation bitmaps and up-case
// table, and every cluster an allocation bitmap marks used.
func mapExFAT(v *volume, rs *runs) (FS, error) {
	b, err := v.read(0, 512)
	if err != nil {
		return "", err
	}
	e, err := parseExFAT(b, v.size)
	if err != nil {
		return ExFAT, err
	}
	if err := e.checkBoot(v); err != nil {
		return ExFAT, err
	}
	rs.add(v.off, e.heapOff*e.bps)
	root, err := e.chain(v, "root directory", e.root, exfatMaxDir/e.cb+1)
	if err != nil {
		return ExFAT, err
	}
	e.addClusters(v, rs, root)
	objs, err := e.systemObjects(v, root)
	if err != nil {
		return ExFAT, err
	}
	for _, o := range objs {
		what := "up-case table"
		if o.typ == exfatBitmapEntry {
			what = "allocation bitmap"
		}
		cs, err := e.chain(v, what, o.first, (o.length+e.cb-1)/e.cb)
		if err != nil {
			return ExFAT, err
		}
		e.addClusters(v, rs, cs)
		if o.typ == exfatBitmapEntry {
			if err := e.mapBitmap(v, rs, cs, o.length); err != nil {
				return ExFAT, err
			}
		}
	}
	return ExFAT, nil
}

// systemObjects reads the root directory (clusters cs) up to its end
// marker and returns its allocation bitmaps and up-case table: one bitmap
// per FAT and one table, or a notUnderstood.
func (e *exfatVol) systemObjects(v *volume, cs []int64) ([]exfatObject, error) {
	var objs []exfatObject
	var bitmaps [2]int
	upcase := 0
	err := e.read(v, cs, int64(len(cs))*e.cb, func(b []byte) bool {
		for i := 0; i+32 <= len(b); i += 32 {
			ent := b[i : i+32]
			switch ent[0] {
			case 0:
				return false
			case exfatBitmapEntry:
				o := exfatObject{typ: ent[0], which: ent[1] & 1, first: int64(le32(ent, 20)), length: int64(min(le64(ent, 24), 1<<40))}
				bitmaps[o.which]++
				objs = append(objs, o)
			case exfatUpcaseEntry:
				upcase++
				objs = append(objs, exfatObject{typ: ent[0], first: int64(le32(ent, 20)), length: int64(min(le64(ent, 24), 1<<40))})
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	switch {
	case bitmaps[0] != 1 || bitmaps[1] != int(e.nfats-1):
		return nil, bad("the root directory lists %d+%d allocation bitmaps for %d FATs", bitmaps[0], bitmaps[1], e.nfats)
	case upcase != 1:
		return nil, bad("the root directory lists %d up-case tables", upcase)
	}
	for _, o := range objs {
		if o.typ == exfatBitmapEntry && o.length < (e.clusters+7)/8 {
			return nil, bad("an allocation bitmap of %d bytes cannot cover %d clusters", o.length, e.clusters)
		}
		if o.length == 0 || o.length > e.clusters*e.cb {
			return nil, bad("the root directory lists a system object (type %#02x) of %d bytes", o.typ, o.length)
		}
	}
	return objs, nil
}

// mapBitmap maps every cluster the allocation bitmap held by the clusters
// cs marks used.
func (e *exfatVol) mapBitmap(v *volume, rs *runs, cs []int64, length int64) error {
	c := int64(2)
	last := e.clusters + 1
	return e.read(v, cs, min(length, (e.clusters+7)/8), func(b []byte) bool {
		for _, byt := range b {
			for bit := range 8 {
				if c > last {
					return false
				}
				if byt&(1<<bit) != 0 {
					rs.add(v.off+e.clusterOff(c), e.cb)
				}
				c++
			}
		}
		return true
	})
}
