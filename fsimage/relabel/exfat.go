package relabel

// exFAT, from Microsoft's "exFAT file system specification": the main
// boot sector (§3.1), the FAT (§4.1: the root directory is always a FAT
// chain) and the Volume Label directory entry (§7.3: type 0x83, a
// character count and up to 11 UTF-16 characters; no checksum covers it).

import (
	"encoding/binary"
	"io"
	"time"

	"github.com/flashpipe/flashpipe/fsimage/exfat"
)

// exfatVol is what setting an exFAT label needs of the boot sector.
type exfatVol struct {
	v        *volume
	cb       int64 // bytes per cluster
	fat      int64 // byte offset of the active FAT in the volume
	heap     int64 // byte offset of cluster 2
	clusters int64
	root     int64 // first cluster of the root directory
	bps      int64
}

const (
	exfatLabelEntry = 0x83
	// exfatMaxScan bounds how much of the root directory Patch reads
	// looking for the label entry (the specification allows 256 MiB).
	exfatMaxScan = 2 << 20
)

// parseExFAT reads and checks the main boot sector of v.
func parseExFAT(v *volume) (*exfatVol, error) {
	b, err := v.read(0, 512)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	bpss, spcs := int64(b[108]), int64(b[109])
	if bpss < 9 || bpss > 12 || spcs > 25-bpss {
		return nil, v.errorf("the exFAT boot sector claims 2^%d-byte sectors and 2^%d sectors per cluster", bpss, spcs)
	}
	bps := int64(1) << bpss
	volLen, fatOff, fatLen := min(le.Uint64(b[72:]), 1<<50), int64(le.Uint32(b[80:])), int64(le.Uint32(b[84:]))
	heapOff, nfats, flags := int64(le.Uint32(b[88:])), int64(b[110]), le.Uint16(b[106:])
	e := &exfatVol{v: v, bps: bps, cb: bps << spcs, fat: fatOff * bps, heap: heapOff * bps,
		clusters: int64(le.Uint32(b[92:])), root: int64(le.Uint32(b[96:]))}
	if nfats == 2 && flags&1 != 0 { // ActiveFat: the second FAT is the one in use
		e.fat += fatLen * bps
	}
	switch {
	case int64(volLen) > v.size/bps:
		return nil, v.errorf("the exFAT boot sector claims %d sectors of %d bytes; the partition has %d bytes", volLen, bps, v.size)
	case nfats != 1 && nfats != 2:
		return nil, v.errorf("the exFAT boot sector claims %d FATs", nfats)
	case fatLen*bps/4 < e.clusters+2 || fatOff+nfats*fatLen > heapOff:
		return nil, v.errorf("the exFAT FATs (sector %d, %d sectors each) cannot hold %d clusters before the cluster heap at sector %d", fatOff, fatLen, e.clusters, heapOff)
	case e.clusters > 0xFFFFFFF5 || heapOff+e.clusters<<spcs > int64(volLen):
		return nil, v.errorf("%d exFAT clusters from sector %d do not fit the volume's %d sectors", e.clusters, heapOff, volLen)
	case e.root < 2 || e.root > e.clusters+1:
		return nil, v.errorf("the exFAT root directory is at cluster %d of %d", e.root, e.clusters)
	}
	return e, nil
}

// set writes the root directory's Volume Label entry where it is, or in
// its first unused entry. An empty label keeps the entry, with no
// characters, as exfatlabel and mkfs.exfat write it.
func (e *exfatVol) set(p *Patcher, label string, _ time.Time) (string, error) {
	entry, err := exfat.LabelEntry(label)
	if err != nil {
		return "", err
	}
	at, free := int64(-1), int64(-1)
	err = e.scanRoot(func(off int64, b []byte) bool {
		switch {
		case b[0] == exfatLabelEntry:
			at = off
			return false
		case b[0] == 0x00: // end of directory: this entry and all after it are unused
			if free < 0 {
				free = off
			}
			return false
		case b[0]&0x80 == 0: // an unused entry
			if free < 0 {
				free = off
			}
		}
		return true
	})
	switch {
	case err != nil:
		return "", err
	case at < 0 && free < 0:
		return "", e.v.errorf("the exFAT root directory has no unused entry for the volume label in its first %d entries", exfatMaxScan/32)
	case at < 0:
		at = free
	}
	b, err := p.Block(at&^511, 512, "exFAT root directory (volume label)")
	if err != nil {
		return "", err
	}
	copy(b[at&511:], entry[:])
	return label, nil
}

// scanRoot calls fn with the image offset and bytes of each root
// directory entry, in order, until fn returns false or the directory ends.
func (e *exfatVol) scanRoot(fn func(off int64, b []byte) bool) error {
	c := e.root
	for seen := int64(0); seen < exfatMaxScan; seen += e.cb {
		stopped, err := scanEntries(e.v, e.heap+(c-2)*e.cb, min(e.cb, exfatMaxScan-seen), fn)
		if err != nil || stopped {
			return err
		}
		b, err := e.v.read(e.fat+c*4, 4)
		if err != nil {
			return err
		}
		next := int64(binary.LittleEndian.Uint32(b))
		if next == 0xFFFFFFFF {
			return nil
		}
		if next < 2 || next > e.clusters+1 {
			return e.v.errorf("the exFAT root directory's cluster chain breaks at cluster %d (its FAT entry is %#x)", c, next)
		}
		c = next
	}
	return nil
}

// ExFATGeometry is where an exFAT volume keeps its structures, in bytes
// from the volume's start (fsimage/imgedit edits files by it).
type ExFATGeometry struct {
	SectorSize  int64
	ClusterSize int64
	FAT         int64 // the active FAT
	Heap        int64 // cluster 2
	Clusters    int64 // clusters of the heap: 2 .. Clusters+1
	RootCluster int64
}

// ExFATGeometry reads and checks the main boot sector of v, an exFAT
// volume of the image r of diskSize bytes.
func (v *Volume) ExFATGeometry(r io.ReaderAt, diskSize int64) (*ExFATGeometry, error) {
	e, err := parseExFAT(&volume{d: &disk{r: r, size: diskSize}, off: v.Offset, size: v.Size, name: v.String()})
	if err != nil {
		return nil, err
	}
	return &ExFATGeometry{SectorSize: e.bps, ClusterSize: e.cb, FAT: e.fat, Heap: e.heap, Clusters: e.clusters, RootCluster: e.root}, nil
}
