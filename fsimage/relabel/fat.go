package relabel

// FAT12/16/32, from Microsoft's "FAT: General Overview of On-Disk Format"
// (the BPB, the extended BPB at byte 36 or, on FAT32, 64, the volume-label
// directory entry) and dosfstools' fatlabel (which fields it writes).

import (
	"bytes"
	"encoding/binary"
	"io"
	"time"

	"github.com/flashpipe/flashpipe/fsimage/fat"
)

// fatVol is what setting a FAT label needs of the boot sector.
type fatVol struct {
	v         *volume
	boot      []byte // the boot sector's first 512 bytes, as the image has them
	bps, spc  int64  // bytes per sector, sectors per cluster
	rsvd      int64  // reserved sectors
	fatSz     int64  // sectors per FAT
	rootStart int64  // FAT12/16: first sector of the root directory region
	rootEnts  int64  // FAT12/16: entries of the root directory region
	dataStart int64  // first sector of cluster 2
	clusters  int64
	fat32     bool
	rootClus  int64 // FAT32: first cluster of the root directory
	bkBoot    int64 // FAT32: sector of the backup boot sector; 0: none
	ext       int   // offset of the extended BPB
	nfats     int64
	fsInfo    int64 // FAT32: sector of the FSInfo sector; 0: none
}

// maxDirEntries is the most entries a FAT directory holds (the
// specification's 2 MiB), and the most Patch looks through.
const maxDirEntries = 65536

// parseFAT reads and checks the boot sector of v.
func parseFAT(v *volume) (*fatVol, error) {
	b, err := v.read(0, 512)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	f := &fatVol{v: v, boot: b, bps: int64(le.Uint16(b[11:])), spc: int64(b[13]), rsvd: int64(le.Uint16(b[14:])),
		rootEnts: int64(le.Uint16(b[17:])), fatSz: int64(le.Uint16(b[22:])), ext: 36}
	nfats, totSec := int64(b[16]), int64(le.Uint16(b[19:]))
	if totSec == 0 {
		totSec = int64(le.Uint32(b[32:]))
	}
	if f.fatSz == 0 {
		f.fat32, f.ext = true, 64
		f.fatSz, f.rootClus, f.bkBoot = int64(le.Uint32(b[36:])), int64(le.Uint32(b[44:])), int64(le.Uint16(b[50:]))
	}
	f.nfats = nfats
	if f.fat32 {
		f.fsInfo = int64(le.Uint16(b[48:]))
	}
	if f.fsInfo >= f.rsvd || f.fsInfo == 0xFFFF {
		f.fsInfo = 0
	}
	if f.bkBoot >= f.rsvd || f.bkBoot == 0xFFFF {
		f.bkBoot = 0
	}
	rootSecs := (f.rootEnts*32 + f.bps - 1) / max(f.bps, 1)
	f.rootStart = f.rsvd + nfats*f.fatSz
	f.dataStart = f.rootStart + rootSecs
	switch {
	case f.bps != 512 && f.bps != 1024 && f.bps != 2048 && f.bps != 4096:
		return nil, v.errorf("the FAT boot sector claims %d-byte sectors", f.bps)
	case f.spc == 0 || f.spc&(f.spc-1) != 0 || f.rsvd == 0 || nfats == 0 || f.fatSz == 0:
		return nil, v.errorf("the FAT boot sector claims %d sectors per cluster, %d reserved sectors and %d FATs of %d sectors", f.spc, f.rsvd, nfats, f.fatSz)
	case totSec > v.size/f.bps:
		return nil, v.errorf("the FAT boot sector claims %d sectors of %d bytes; the partition has %d bytes", totSec, f.bps, v.size)
	case f.dataStart >= totSec:
		return nil, v.errorf("the FAT boot sector leaves no data area (%d of %d sectors are metadata)", f.dataStart, totSec)
	case f.fat32 == (f.rootEnts != 0):
		return nil, v.errorf("the FAT boot sector claims %d root directory entries with %d-sector FATs", f.rootEnts, le.Uint16(b[22:]))
	}
	f.clusters = (totSec - f.dataStart) / f.spc
	if f.fat32 && (f.fatSz*f.bps/4 < f.clusters+2 || f.rootClus < 2 || f.rootClus > f.clusters+1) {
		return nil, v.errorf("the FAT32 root directory is at cluster %d of %d, with a FAT of %d sectors", f.rootClus, f.clusters, f.fatSz)
	}
	return f, nil
}

// set writes label into the boot sector(s) and the root directory.
func (f *fatVol) set(p *Patcher, label string, now time.Time) (string, error) {
	l, err := fat.CheckLabel(label)
	if err != nil {
		return "", err
	}
	if err := f.setBoot(p, l); err != nil {
		return "", err
	}
	return l, f.setEntry(p, l, now)
}

// setBoot writes the boot sector's label field, and the backup boot
// sector's where the backup is a copy of the boot sector. A boot sector
// without the extended boot signature 0x29 has no label field.
func (f *fatVol) setBoot(p *Patcher, l string) error {
	field := f.ext + 7 // BS_VolLab, 11 bytes
	if f.boot[f.ext+2] != 0x29 {
		return nil
	}
	b, err := p.Block(f.v.off, 512, "FAT boot sector")
	if err != nil {
		return err
	}
	lab := fat.BootLabel(l)
	copy(b[field:field+11], lab[:])
	if f.bkBoot == 0 {
		return nil
	}
	bk, err := f.v.read(f.bkBoot*f.bps, 512)
	if err != nil {
		return err
	}
	if !bytes.Equal(bk[:field], f.boot[:field]) || !bytes.Equal(bk[field+11:], f.boot[field+11:]) {
		return nil
	}
	return p.Put(f.v.off+f.bkBoot*f.bps, bytes.Clone(b), "FAT backup boot sector")
}

// setEntry writes the root directory's volume-label entry where it is, or
// in the first free entry; an empty label deletes it.
func (f *fatVol) setEntry(p *Patcher, l string, now time.Time) error {
	at, free := int64(-1), int64(-1)
	err := f.scanRoot(func(off int64, e []byte) bool {
		switch {
		case e[0] == 0x00: // this entry and all after it are free
			if free < 0 {
				free = off
			}
			return false
		case e[0] == 0xE5:
			if free < 0 {
				free = off
			}
		case e[11]&0x3F == 0x0F: // part of a long name
		case e[11]&0x18 == 0x08: // volume ID, not a directory
			at = off
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return err
	case l == "" && at < 0:
		return nil
	case at < 0 && free < 0:
		return f.v.errorf("the FAT root directory has no free entry for the volume label (it is full)")
	case at < 0:
		at = free
	}
	b, err := p.Block(at&^511, 512, "FAT root directory (volume label)")
	if err != nil {
		return err
	}
	e := b[at&511 : at&511+32]
	if l == "" {
		e[0] = 0xE5
		return nil
	}
	entry := fat.LabelEntry(l, now)
	copy(e, entry[:])
	return nil
}

// scanRoot calls fn with the image offset and bytes of each root
// directory entry, in order, until fn returns false or the directory ends.
func (f *fatVol) scanRoot(fn func(off int64, e []byte) bool) error {
	if !f.fat32 {
		_, err := scanEntries(f.v, f.rootStart*f.bps, f.rootEnts*32, fn)
		return err
	}
	cb := f.spc * f.bps
	c := f.rootClus
	for seen := int64(0); ; seen += cb / 32 {
		if seen >= maxDirEntries {
			return f.v.errorf("the FAT32 root directory is longer than %d entries", maxDirEntries)
		}
		stopped, err := scanEntries(f.v, (f.dataStart+(c-2)*f.spc)*f.bps, cb, fn)
		if err != nil || stopped {
			return err
		}
		b, err := f.v.read(f.rsvd*f.bps+c*4, 4)
		if err != nil {
			return err
		}
		next := int64(binary.LittleEndian.Uint32(b) & 0x0FFFFFFF)
		if next >= 0x0FFFFFF8 {
			return nil
		}
		if next < 2 || next > f.clusters+1 {
			return f.v.errorf("the FAT32 root directory's cluster chain breaks at cluster %d (its FAT entry is %#x)", c, next)
		}
		c = next
	}
}

// scanEntries calls fn with each 32-byte entry of the n bytes at off in v
// (image offsets), until fn returns false (stopped).
func scanEntries(v *volume, off, n int64, fn func(off int64, e []byte) bool) (stopped bool, err error) {
	const piece = 64 << 10
	for done := int64(0); done < n; done += piece {
		b, err := v.read(off+done, min(piece, n-done))
		if err != nil {
			return false, err
		}
		for i := 0; i+32 <= len(b); i += 32 {
			if !fn(v.off+off+done+int64(i), b[i:i+32]) {
				return true, nil
			}
		}
	}
	return false, nil
}

// FATGeometry is where a FAT12/16/32 volume keeps its structures, in
// sectors from the volume's start (fsimage/imgedit edits files by it).
type FATGeometry struct {
	SectorSize        int64 // bytes, 512 to 4096
	SectorsPerCluster int64
	FATStart          int64 // first sector of the first FAT
	FATSectors        int64 // sectors per FAT
	FATs              int64
	RootStart         int64 // FAT12/16: first sector of the root directory region
	RootEntries       int64 // FAT12/16: entries of the root directory region; 0 on FAT32
	DataStart         int64 // first sector of cluster 2
	Clusters          int64 // data clusters: 2 .. Clusters+1
	RootCluster       int64 // FAT32: first cluster of the root directory
	FSInfo            int64 // FAT32: sector of the FSInfo sector; 0: none
}

// FATGeometry reads and checks the boot sector of v, a FAT volume of the
// image r of diskSize bytes.
func (v *Volume) FATGeometry(r io.ReaderAt, diskSize int64) (*FATGeometry, error) {
	f, err := parseFAT(&volume{d: &disk{r: r, size: diskSize}, off: v.Offset, size: v.Size, name: v.String()})
	if err != nil {
		return nil, err
	}
	return &FATGeometry{SectorSize: f.bps, SectorsPerCluster: f.spc, FATStart: f.rsvd, FATSectors: f.fatSz, FATs: f.nfats,
		RootStart: f.rootStart, RootEntries: f.rootEnts, DataStart: f.dataStart, Clusters: f.clusters,
		RootCluster: f.rootClus, FSInfo: f.fsInfo}, nil
}
