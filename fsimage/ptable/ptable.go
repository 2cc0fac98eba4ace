// Package ptable lays out partition tables — MBR, GPT, or none
// (superfloppy) — as write-plan extents. It is written from the UEFI
// specification (chapter 5, "GUID Partition Table Disk Layout") and the
// classic MBR layout; it reads nothing and writes nothing itself.
//
// Every table puts its one partition at 1 MiB and ends it on a 1 MiB
// boundary. The bytes between the table and the partition, and after the
// partition up to the backup GPT (or the end of the device), are Zero
// extents: a stale GPT or filesystem signature left there by an earlier
// use of the stick would otherwise confuse blkid and the kernel.
package ptable

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"strings"
	"unicode/utf16"

	"github.com/flashpipe/flashpipe/fsimage"
)

// Table names accepted by Layout.
const (
	MBR  = "mbr"
	GPT  = "gpt"
	None = "none"
)

const (
	align        = 1 << 20 // partition start and end alignment
	gptEntries   = 128     // entries in the GPT partition array
	gptEntrySize = 128     // bytes per GPT entry
	gptArray     = gptEntries * gptEntrySize
	gptHdrSize   = 92
	maxNameUnits = 36 // UTF-16 code units in a GPT partition name
)

// Layout returns where the one partition of a device lies and the extents
// of the partition table. table is "mbr", "gpt" or "none"; typ is the
// partition's type (from the filesystem's descriptor: ptable knows no
// filesystem by name); partName is the GPT partition name (at most 36
// UTF-16 units; ignored for MBR); diskID seeds the MBR disk signature and
// the GPT disk and partition GUIDs, so the same arguments always give the
// same bytes.
//
// With "none" the filesystem spans the whole device and there are no
// extents. sectorSize must be 512 or 4096.
func Layout(table string, deviceSize int64, sectorSize int, typ fsimage.PartitionType, partName string, diskID uint32) (part fsimage.Region, extents []fsimage.Extent, err error) {
	if sectorSize != 512 && sectorSize != 4096 {
		return part, nil, fmt.Errorf("sector size %d: want 512 or 4096", sectorSize)
	}
	switch table {
	case None:
		if deviceSize <= 0 {
			return part, nil, fmt.Errorf("device size %d is not positive", deviceSize)
		}
		return fsimage.Region{Offset: 0, Length: deviceSize}, nil, nil
	case MBR:
		return layoutMBR(deviceSize, sectorSize, typ.MBR, diskID)
	case GPT:
		return layoutGPT(deviceSize, sectorSize, typ.GPT, partName, diskID)
	}
	return part, nil, fmt.Errorf("unknown partition table %q: want mbr, gpt or none", table)
}

// DeviceSize returns the smallest device size (a whole number of sectors)
// on which Layout gives a partition of at least partSize bytes.
func DeviceSize(table string, sectorSize int, partSize int64) (int64, error) {
	if sectorSize != 512 && sectorSize != 4096 {
		return 0, fmt.Errorf("sector size %d: want 512 or 4096", sectorSize)
	}
	ss := int64(sectorSize)
	switch table {
	case None:
		return roundUp(partSize, ss), nil
	case MBR:
		return align + roundUp(partSize, align), nil
	case GPT:
		return align + roundUp(partSize, align) + ss + roundUp(gptArray, ss), nil
	}
	return 0, fmt.Errorf("unknown partition table %q: want mbr, gpt or none", table)
}

func roundUp(n, a int64) int64   { return (n + a - 1) / a * a }
func roundDown(n, a int64) int64 { return n / a * a }

// mbrSector returns a sector 0 with the boot signature, a disk signature
// and one partition entry.
func mbrSector(sectorSize int, diskID uint32, typ byte, startLBA, sectors uint32) []byte {
	b := make([]byte, sectorSize)
	binary.LittleEndian.PutUint32(b[440:], diskID)
	e := b[446:462]
	e[0] = 0x00 // not bootable
	copy(e[1:4], chs(startLBA))
	e[4] = typ
	copy(e[5:8], chs(startLBA+sectors-1))
	binary.LittleEndian.PutUint32(e[8:], startLBA)
	binary.LittleEndian.PutUint32(e[12:], sectors)
	b[510], b[511] = 0x55, 0xAA
	return b
}

// chs encodes an LBA as cylinder/head/sector with 255 heads and 63 sectors
// per track, saturating at 1023/254/63 as partitioners do.
func chs(lba uint32) []byte {
	const heads, spt = 255, 63
	c := lba / (heads * spt)
	if c > 1023 {
		return []byte{0xFE, 0xFF, 0xFF}
	}
	h := (lba / spt) % heads
	s := lba%spt + 1
	return []byte{byte(h), byte(s) | byte(c>>8)<<6, byte(c)}
}

func layoutMBR(deviceSize int64, sectorSize int, typ byte, diskID uint32) (fsimage.Region, []fsimage.Extent, error) {
	if typ == 0 || typ == 0xEE {
		return fsimage.Region{}, nil, fmt.Errorf("MBR partition type 0x%02X: want a filesystem's type (0 is unused, 0xEE protective)", typ)
	}
	ss := int64(sectorSize)
	end := roundDown(deviceSize, align)
	if max := int64(1<<32-1) * ss; end > max {
		end = roundDown(max, align) // MBR counts sectors in 32 bits
	}
	if end <= align {
		return fsimage.Region{}, nil, &fsimage.NoSpaceError{What: "device (MBR partition table)", Needed: 2 * align, Available: deviceSize}
	}
	part := fsimage.Region{Offset: align, Length: end - align}
	xs := []fsimage.Extent{
		{Offset: 0, Length: ss, Kind: fsimage.Bytes, What: "mbr",
			Data: mbrSector(sectorSize, diskID, typ, uint32(align/ss), uint32(part.Length/ss))},
		{Offset: ss, Length: align - ss, Kind: fsimage.Zero, What: "gap before partition"},
	}
	if tail := roundDown(deviceSize, ss); tail > end {
		xs = append(xs, fsimage.Extent{Offset: end, Length: tail - end, Kind: fsimage.Zero, What: "gap after partition"})
	}
	return part, xs, nil
}

func layoutGPT(deviceSize int64, sectorSize int, typeGUID, partName string, diskID uint32) (fsimage.Region, []fsimage.Extent, error) {
	typ, err := ParseGUID(typeGUID)
	if err != nil {
		return fsimage.Region{}, nil, fmt.Errorf("GPT partition type: %w", err)
	}
	if typ == ([16]byte{}) {
		return fsimage.Region{}, nil, fmt.Errorf("GPT partition type %s marks an unused entry", typeGUID)
	}
	name := utf16.Encode([]rune(partName))
	if len(name) > maxNameUnits {
		return fsimage.Region{}, nil, fmt.Errorf("GPT partition name %q is %d UTF-16 units long, the limit is %d", partName, len(name), maxNameUnits)
	}
	ss := int64(sectorSize)
	arraySectors := roundUp(gptArray, ss) / ss
	lastLBA := deviceSize/ss - 1
	firstUsable := 2 + arraySectors
	lastUsable := lastLBA - 1 - arraySectors
	start := roundUp(firstUsable*ss, align)
	end := roundDown((lastUsable+1)*ss, align)
	if lastUsable < firstUsable || end <= start {
		need, _ := DeviceSize(GPT, sectorSize, align)
		return fsimage.Region{}, nil, &fsimage.NoSpaceError{What: "device (GPT partition table)", Needed: need, Available: deviceSize}
	}
	part := fsimage.Region{Offset: start, Length: end - start}

	array := make([]byte, arraySectors*ss)
	e := array[:gptEntrySize]
	copy(e[0:16], typ[:])
	partGUID := deriveGUID(diskID, "partition 1")
	copy(e[16:32], partGUID[:])
	binary.LittleEndian.PutUint64(e[32:], uint64(start/ss))
	binary.LittleEndian.PutUint64(e[40:], uint64(end/ss-1))
	for i, u := range name {
		binary.LittleEndian.PutUint16(e[56+2*i:], u)
	}
	arrayCRC := crc32.ChecksumIEEE(array[:gptArray])
	diskGUID := deriveGUID(diskID, "disk")
	hdr := func(my, alt, entries int64) []byte {
		h := make([]byte, ss)
		copy(h[0:8], "EFI PART")
		binary.LittleEndian.PutUint32(h[8:], 0x00010000)
		binary.LittleEndian.PutUint32(h[12:], gptHdrSize)
		binary.LittleEndian.PutUint64(h[24:], uint64(my))
		binary.LittleEndian.PutUint64(h[32:], uint64(alt))
		binary.LittleEndian.PutUint64(h[40:], uint64(firstUsable))
		binary.LittleEndian.PutUint64(h[48:], uint64(lastUsable))
		copy(h[56:72], diskGUID[:])
		binary.LittleEndian.PutUint64(h[72:], uint64(entries))
		binary.LittleEndian.PutUint32(h[80:], gptEntries)
		binary.LittleEndian.PutUint32(h[84:], gptEntrySize)
		binary.LittleEndian.PutUint32(h[88:], arrayCRC)
		binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h[:gptHdrSize]))
		return h
	}
	pmbrSectors := lastLBA
	if pmbrSectors > 1<<32-1 {
		pmbrSectors = 1<<32 - 1
	}
	pmbr := mbrSector(sectorSize, 0, 0xEE, 1, uint32(pmbrSectors))
	backupArray := lastLBA - arraySectors
	xs := []fsimage.Extent{
		{Offset: 0, Length: ss, Kind: fsimage.Bytes, What: "protective mbr", Data: pmbr},
		{Offset: ss, Length: ss, Kind: fsimage.Bytes, What: "gpt header", Data: hdr(1, lastLBA, 2)},
		{Offset: 2 * ss, Length: int64(len(array)), Kind: fsimage.Bytes, What: "gpt entries", Data: array},
		{Offset: firstUsable * ss, Length: start - firstUsable*ss, Kind: fsimage.Zero, What: "gap before partition"},
	}
	if gap := backupArray*ss - end; gap > 0 {
		xs = append(xs, fsimage.Extent{Offset: end, Length: gap, Kind: fsimage.Zero, What: "gap after partition"})
	}
	xs = append(xs,
		fsimage.Extent{Offset: backupArray * ss, Length: int64(len(array)), Kind: fsimage.Bytes, What: "gpt backup entries", Data: array},
		fsimage.Extent{Offset: lastLBA * ss, Length: ss, Kind: fsimage.Bytes, What: "gpt backup header", Data: hdr(lastLBA, 1, backupArray)},
	)
	// A first-usable LBA that is already 1 MiB aligned leaves no gap.
	out := xs[:0]
	for _, x := range xs {
		if x.Length > 0 {
			out = append(out, x)
		}
	}
	return part, out, nil
}

// deriveGUID makes a GUID from diskID and a purpose, stable across runs:
// a name-based (version 5 style, SHA1) GUID in the on-disk mixed-endian
// layout.
func deriveGUID(diskID uint32, purpose string) [16]byte {
	h := sha1.New()
	fmt.Fprintf(h, "flashpipe %s %08x", purpose, diskID)
	var g [16]byte
	copy(g[:], h.Sum(nil))
	// Version and variant live in the big-endian fields 3 and 4; field 3
	// (bytes 6-7) is stored little-endian on disk.
	g[7] = g[7]&0x0F | 0x50
	g[8] = g[8]&0x3F | 0x80
	return g
}

// ParseGUID parses a GUID in its text form
// ("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7") into the on-disk layout: the
// first three fields little-endian, the last two as written.
func ParseGUID(s string) ([16]byte, error) {
	var be [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return [16]byte{}, fmt.Errorf("GUID %q: want 8-4-4-4-12 hex digits", s)
	}
	h, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil {
		return [16]byte{}, fmt.Errorf("GUID %q: %w", s, err)
	}
	copy(be[:], h)
	return [16]byte{
		be[3], be[2], be[1], be[0],
		be[5], be[4],
		be[7], be[6],
		be[8], be[9], be[10], be[11], be[12], be[13], be[14], be[15],
	}, nil
}

// GUIDString formats an on-disk GUID in its usual text form.
func GUIDString(g [16]byte) string {
	return fmt.Sprintf("%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
		g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15])
}

// MBRSignature returns the MBR disk signature Layout writes for diskID, as
// blkid reports it (PTUUID=): 8 hex digits.
func MBRSignature(diskID uint32) string { return fmt.Sprintf("%08x", diskID) }

// DiskGUID returns the GPT disk GUID Layout derives from diskID, in text
// form, so that tests and receipts can name it.
func DiskGUID(diskID uint32) string { return GUIDString(deriveGUID(diskID, "disk")) }

// PartitionGUID returns the GPT unique partition GUID Layout derives from
// diskID, in text form.
func PartitionGUID(diskID uint32) string { return GUIDString(deriveGUID(diskID, "partition 1")) }
