package allocmap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"unicode/utf16"
)

// gptHeader is a GPT header, read from the UEFI specification's layout
// (chapter 5, "GUID Partition Table Disk Layout").
type gptHeader struct {
	myLBA, altLBA           uint64
	firstUsable, lastUsable uint64
	entryLBA                uint64
	numEntries, entrySize   uint32
	entries                 []byte // the partition entry array, CRC checked
}

// Limits on what a GPT header may claim, so that a hostile one cannot make
// Read allocate or loop without bound. sgdisk's largest table is 128 KiB.
const (
	maxGPTArray = 4 << 20
	gptHdrMin   = 92
)

// arraySectors returns how many sectors the entry array fills.
func (h *gptHeader) arraySectors(ss int) uint64 {
	return (uint64(h.numEntries)*uint64(h.entrySize) + uint64(ss) - 1) / uint64(ss)
}

// readGPTHeader reads and checks the GPT header at lba and its entry
// array: signature, header size, both CRC32s, MyLBA, the usable range and
// the array's place on the disk. What fails is a notUnderstood.
func readGPTHeader(d *disk, lba uint64) (*gptHeader, error) {
	n := uint64(d.sectors())
	if lba >= n {
		return nil, bad("LBA %d is past the end of the disk (%d sectors)", lba, n)
	}
	b, err := d.read(int64(lba)*int64(d.ss), d.ss)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(b[:8], []byte("EFI PART")) {
		return nil, bad("no GPT header signature at LBA %d", lba)
	}
	size := binary.LittleEndian.Uint32(b[12:])
	if size < gptHdrMin || size > uint32(d.ss) {
		return nil, bad("the GPT header at LBA %d claims %d bytes", lba, size)
	}
	hdr := bytes.Clone(b[:size])
	clear(hdr[16:20])
	if crc32.ChecksumIEEE(hdr) != binary.LittleEndian.Uint32(b[16:]) {
		return nil, bad("the GPT header at LBA %d fails its CRC32", lba)
	}
	h := &gptHeader{
		myLBA: binary.LittleEndian.Uint64(b[24:]), altLBA: binary.LittleEndian.Uint64(b[32:]),
		firstUsable: binary.LittleEndian.Uint64(b[40:]), lastUsable: binary.LittleEndian.Uint64(b[48:]),
		entryLBA: binary.LittleEndian.Uint64(b[72:]), numEntries: binary.LittleEndian.Uint32(b[80:]),
		entrySize: binary.LittleEndian.Uint32(b[84:]),
	}
	if err := h.check(lba, n); err != nil {
		return nil, err
	}
	if h.entries, err = d.read(int64(h.entryLBA)*int64(d.ss), int(h.numEntries*h.entrySize)); err != nil {
		return nil, err
	}
	if crc32.ChecksumIEEE(h.entries) != binary.LittleEndian.Uint32(b[88:]) {
		return nil, bad("the GPT partition entries of the header at LBA %d fail their CRC32", lba)
	}
	return h, nil
}

// check validates a header's fields against where it was read (lba) and
// the disk's n sectors.
func (h *gptHeader) check(lba, n uint64) error {
	switch {
	case h.myLBA != lba:
		return bad("the GPT header at LBA %d says it is at LBA %d", lba, h.myLBA)
	case h.altLBA == lba:
		return bad("the GPT header at LBA %d names itself as the other copy", lba)
	case h.firstUsable > h.lastUsable || h.lastUsable >= n:
		return bad("the GPT header at LBA %d has usable sectors %d to %d on a disk of %d", lba, h.firstUsable, h.lastUsable, n)
	case h.entrySize < 128 || h.entrySize%128 != 0 || h.entrySize&(h.entrySize-1) != 0:
		return bad("the GPT header at LBA %d has entries of %d bytes", lba, h.entrySize)
	case h.numEntries == 0 || uint64(h.numEntries)*uint64(h.entrySize) > maxGPTArray:
		return bad("the GPT header at LBA %d has %d entries of %d bytes", lba, h.numEntries, h.entrySize)
	case h.entryLBA < 2 || h.entryLBA >= n:
		return bad("the GPT header at LBA %d puts its entries at LBA %d", lba, h.entryLBA)
	}
	return nil
}

// readGPT reads the primary GPT, falling back to the backup at the end of
// the disk, and adds its partitions (and those a hybrid MBR lists besides).
// With neither header readable the whole disk is mapped.
func readGPT(d *disk, t *table, mbr []mbrEntry) error {
	var nu *notUnderstood
	primary, perr := readGPTHeader(d, 1)
	if perr != nil && !errors.As(perr, &nu) {
		return perr
	}
	backupLBA := uint64(d.sectors()) - 1
	if primary != nil {
		backupLBA = primary.altLBA
	}
	var backup *gptHeader
	var berr error
	if primary == nil || !d.primaryOnly {
		backup, berr = readGPTHeader(d, backupLBA)
		if berr != nil && !errors.As(berr, &nu) {
			return berr
		}
	}
	use := primary
	switch {
	case primary == nil && backup == nil:
		t.notef("no readable GPT: primary: %v; backup: %v", perr, berr)
		t.parts = append(t.parts, Partition{What: "the whole disk (GPT unreadable)", Size: d.size, FS: Unknown,
			Whole: true, Reason: "the disk has a protective MBR but neither GPT header can be read"})
		return nil
	case primary == nil:
		t.notef("primary GPT damaged (%v); the backup at LBA %d was used", perr, backupLBA)
		use = backup
	case backup == nil && berr != nil:
		t.notef("backup GPT damaged (%v)", berr)
	case backup != nil && !bytes.Equal(primary.entries, backup.entries):
		t.notef("the primary and backup GPT list different partitions; the primary was used, as Linux does")
	}
	mapGPTArea(d, t, primary, 1)
	mapGPTArea(d, t, backup, backupLBA)
	if primary != nil && backup == nil {
		// Map where the backup should be, whatever it holds now.
		t.system.add(int64(backupLBA-min(backupLBA, primary.arraySectors(d.ss)))*int64(d.ss),
			int64(primary.arraySectors(d.ss)+1)*int64(d.ss))
	}
	gptPartitions(d, t, use)
	hybridEntries(d, t, mbr)
	return nil
}

// mapGPTArea maps a GPT header's sector and its entry array; with no
// header (it was damaged), the sector where it should be.
func mapGPTArea(d *disk, t *table, h *gptHeader, lba uint64) {
	ss := int64(d.ss)
	if lba < uint64(d.sectors()) {
		t.system.add(int64(lba)*ss, ss)
	}
	if h != nil {
		t.system.add(int64(h.entryLBA)*ss, int64(h.arraySectors(d.ss))*ss)
	}
}

// gptPartitions adds the used entries of h's array, numbered by their
// index as Linux numbers them.
func gptPartitions(d *disk, t *table, h *gptHeader) {
	for i := range h.numEntries {
		e := h.entries[int(i*h.entrySize):int((i+1)*h.entrySize)]
		if isZero(e[:16]) {
			continue
		}
		what := fmt.Sprintf("partition %d", i+1)
		start, end := binary.LittleEndian.Uint64(e[32:]), binary.LittleEndian.Uint64(e[40:])
		if end < start {
			t.notef("%s ends (sector %d) before it starts (sector %d); it was left out", what, end, start)
			continue
		}
		off, size, ok := t.clip(d, what, start, end-start+1)
		if !ok {
			continue
		}
		t.parts = append(t.parts, Partition{Number: int(i) + 1, What: what, Offset: off, Size: size,
			Type: guidString(e[:16]), Name: utf16Name(e[56:min(len(e), 128)])})
	}
}

// hybridEntries adds the entries of a hybrid MBR (beside the protective
// one) that no GPT partition matches: Linux ignores them, firmware may not.
func hybridEntries(d *disk, t *table, mbr []mbrEntry) {
	for _, e := range mbr {
		if e.typ == typeProtective {
			continue
		}
		what := fmt.Sprintf("hybrid MBR entry %d", e.slot)
		off, size, ok := t.clip(d, what, uint64(e.start), uint64(e.count))
		if !ok || t.hasPartition(off, size) {
			continue
		}
		t.parts = append(t.parts, Partition{What: what, Offset: off, Size: size, Type: mbrType(e.typ)})
	}
}

func (t *table) hasPartition(off, size int64) bool {
	for _, p := range t.parts {
		if p.Offset == off && p.Size == size {
			return true
		}
	}
	return false
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// guidString formats a GPT GUID (mixed endian) as sgdisk prints it.
func guidString(b []byte) string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X", binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint16(b[4:]),
		binary.LittleEndian.Uint16(b[6:]), b[8:10], b[10:16])
}

// utf16Name decodes a GPT partition name (UTF-16LE, NUL padded).
func utf16Name(b []byte) string {
	var u []uint16
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// detectSectorSize guesses the logical sector size of an image: 4096 when
// a GPT header signature is at 4096 and not at 512, or when only 4096-byte
// sectors put a known filesystem at the start of an MBR partition; else 512.
func detectSectorSize(d *disk) (int, error) {
	if d.size < 8192 {
		return 512, nil
	}
	b, err := d.read(0, 8192)
	if err != nil {
		return 0, err
	}
	switch {
	case bytes.Equal(b[512:520], []byte("EFI PART")):
		return 512, nil
	case bytes.Equal(b[4096:4104], []byte("EFI PART")):
		return 4096, nil
	}
	entries, ok := parseMBR(b)
	if !ok {
		return 512, nil
	}
	found := func(ss int64) (bool, error) {
		for _, e := range entries {
			v := &volume{d: d, off: int64(e.start) * ss, size: d.size - min(d.size, int64(e.start)*ss)}
			fs, _, err := detect(v)
			var nu *notUnderstood
			if err != nil && !errors.As(err, &nu) {
				return false, err
			}
			if fs.Understood() {
				return true, nil
			}
		}
		return false, nil
	}
	at512, err := found(512)
	if err != nil || at512 {
		return 512, err
	}
	at4k, err := found(4096)
	if at4k {
		return 4096, err
	}
	return 512, err
}
