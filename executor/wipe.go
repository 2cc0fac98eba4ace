package executor

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/flashpipe/flashpipe/blockdev"
)

// Wipe modes.
const (
	WipeNone    = "none"
	WipeQuick   = "quick"
	WipeZero    = "zero"
	WipeDiscard = "discard"
)

// zeroChunk is how much Wipe zeroes or discards per call, so that progress
// is reported and cancellation is seen between calls.
const zeroChunk = 64 << 20

// Wipe clears what the device held before, in one of these modes:
//
//   - "quick" zeroes every place where blkid, the kernel or an OS looks for
//     a partition table or filesystem, so nothing of the old content is
//     recognised: see quickRanges.
//   - "zero" zeroes the whole device: BLKZEROOUT in 64 MiB steps (the
//     kernel writes zeros itself when the stick has no faster way), or
//     punched holes in an image file.
//   - "discard" discards the whole device (BLKDISCARD); a device that cannot
//     discard is zeroed instead, with a progress Note saying so. Because a
//     discarded range need not read back as zeros, a quick wipe follows.
//   - "none" does nothing.
//
// Wipe ends with an fsync.
//
// usable, when between 0 and the device's size, is how many bytes from
// the start hold what is written: a probe found the rest of a fake stick
// missing, where writes wrap onto the start or vanish. The wipe then
// covers [0, usable) only, its quick ranges taken as if the stick ended
// there (where a table written for the usable part keeps its backup).
func Wipe(ctx context.Context, dev *blockdev.Device, mode string, usable int64, progress ProgressFunc) error {
	opts := Options{Progress: progress}.withDefaults()
	size := dev.Size
	if usable > 0 && usable < size {
		size = alignDown(usable, int64(max(blockdev.Align, dev.LogicalSectorSize)))
	}
	var err error
	switch mode {
	case WipeNone:
		return nil
	case WipeQuick:
		err = wipeQuick(ctx, dev, size, opts)
	case WipeZero:
		err = wipeAll(ctx, dev, size, opts, false)
	case WipeDiscard:
		err = wipeAll(ctx, dev, size, opts, true)
		if err == nil {
			err = wipeQuick(ctx, dev, size, opts)
		}
	default:
		return fmt.Errorf("wipe %s: unknown mode %q (want none, quick, zero or discard)", dev.Path, mode)
	}
	if err == nil {
		err = dev.Sync()
	}
	return stepError("wipe", dev, err)
}

// wipeAll zeroes or discards the device's first size bytes in chunks;
// zeroing goes in calls sized to the device's speed (PaceTarget).
func wipeAll(ctx context.Context, dev *blockdev.Device, size int64, opts Options, discard bool) error {
	m := newMeter("wipe", size, opts)
	zeroes := newPacer(int64(max(blockdev.Align, dev.LogicalSectorSize)), zeroChunk)
	for off := int64(0); off < size; off += zeroChunk {
		if err := ctx.Err(); err != nil {
			return errors.Join(errCanceled, err)
		}
		n := min(zeroChunk, size-off)
		if discard {
			err := dev.Discard(off, n)
			if errors.Is(err, blockdev.ErrNotSupported) {
				m.note(fmt.Sprintf("%s cannot discard (%v); writing zeros instead", dev.Path, err))
				discard = false
			} else if err != nil {
				return err
			}
		}
		if !discard {
			if err := zeroes.do(ctx, off, off+n, dev.ZeroOut); err != nil {
				return err
			}
		}
		m.report(off+n, false)
	}
	m.report(size, true)
	return nil
}

// wipeQuick zeroes the ranges quickRanges finds in the first size bytes.
func wipeQuick(ctx context.Context, dev *blockdev.Device, size int64, opts Options) error {
	rs, err := quickRanges(dev, size)
	if err != nil {
		return err
	}
	var total, done int64
	for _, r := range rs {
		total += r.end - r.off
	}
	m := newMeter("wipe", total, opts)
	zeroes := newPacer(int64(dev.LogicalSectorSize), zeroChunk)
	for _, r := range rs {
		if err := zeroes.do(ctx, r.off, r.end, dev.ZeroOut); err != nil {
			return err
		}
		done += r.end - r.off
		m.report(done, false)
	}
	m.report(done, true)
	return nil
}

const mib = 1 << 20

// quickRanges returns, merged and aligned to the logical sector size, the
// ranges a quick wipe zeroes:
//
//   - the first MiB of the device: MBR, primary GPT header and entries
//     (LBA 1–33 with 512-byte sectors, 1–5 with 4K), a superfloppy's boot
//     sector and its backups (FAT at sector 6, exFAT boot regions in sectors
//     0–23), ISO 9660 at 32 KiB, btrfs at 64 KiB, ext's superblock at 1 KiB;
//   - the last MiB: the backup GPT entries and header, and the signatures
//     kept at the end of a device (md 0.90/1.0, NTFS backup boot sector);
//   - for each partition in the current MBR (including logical partitions
//     in the extended chain) and GPT: its first MiB (the same superblocks,
//     relative to the partition) and its last MiB (NTFS and md backups);
//   - the MiB before the backup GPT header where the primary header says it
//     is, in case the table was written for a smaller image.
//
// The device is taken to end at size bytes; ranges past it are dropped.
func quickRanges(dev *blockdev.Device, size int64) ([]span, error) {
	rs := []span{{0, mib}, {size - mib, size}}
	parts, err := oldPartitions(dev)
	if err != nil {
		return nil, err
	}
	rs = append(rs, parts...)
	return normalize(rs, size, int64(dev.LogicalSectorSize)), nil
}

// normalize clips ranges to [0, size), aligns them outward to sector and
// merges overlaps.
func normalize(rs []span, size, sector int64) []span {
	var out []span
	for _, r := range rs {
		r.off, r.end = max(0, alignDown(r.off, sector)), min(size, alignUp(r.end, sector))
		if r.end > r.off {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].off < out[j].off })
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && r.off <= merged[n-1].end {
			merged[n-1].end = max(merged[n-1].end, r.end)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// oldPartitions reads the current MBR and GPT and returns, for each
// partition, its first and last MiB.
func oldPartitions(dev *blockdev.Device) ([]span, error) {
	ss := int64(dev.LogicalSectorSize)
	head := blockdev.AlignedBuffer(int(min(mib, alignUp(dev.Size, blockdev.Align))))
	if int64(len(head)) > dev.Size {
		head = head[:dev.Size]
	}
	if _, err := dev.ReadAt(head, 0); err != nil {
		return nil, err
	}
	var rs []span
	part := func(first, count int64) {
		if first <= 0 || count <= 0 {
			return
		}
		off, end := first*ss, (first+count)*ss
		rs = append(rs, span{off, off + mib}, span{end - mib, end})
	}
	if len(head) >= 512 && head[510] == 0x55 && head[511] == 0xaa {
		for i := range 4 {
			p := head[446+16*i : 446+16*i+16]
			typ, first, count := p[4], int64(binary.LittleEndian.Uint32(p[8:])), int64(binary.LittleEndian.Uint32(p[12:]))
			if typ == 0x05 || typ == 0x0f || typ == 0x85 {
				rs = append(rs, logicalPartitions(dev, first, ss)...)
			}
			if typ != 0xee { // the protective entry covers the whole disk
				part(first, count)
			}
		}
	}
	if int64(len(head)) >= 2*ss && bytes.Equal(head[ss:ss+8], []byte("EFI PART")) {
		h := head[ss:]
		alt := int64(binary.LittleEndian.Uint64(h[32:]))
		if alt > 0 {
			rs = append(rs, span{(alt+1)*ss - mib, (alt + 1) * ss})
		}
		entriesLBA := int64(binary.LittleEndian.Uint64(h[72:]))
		n, esz := int64(binary.LittleEndian.Uint32(h[80:])), int64(binary.LittleEndian.Uint32(h[84:]))
		for i := range min(n, 128) {
			off := entriesLBA*ss + i*esz
			if esz < 128 || off+esz > int64(len(head)) {
				break
			}
			e := head[off : off+esz]
			first, last := int64(binary.LittleEndian.Uint64(e[32:])), int64(binary.LittleEndian.Uint64(e[40:]))
			if !bytes.Equal(e[:16], make([]byte, 16)) && last >= first {
				part(first, last-first+1)
			}
		}
	}
	return rs, nil
}

// logicalPartitions follows the extended partition's chain of EBRs (at
// most 64 links) and returns each logical partition's first and last MiB
// and each EBR's sector.
func logicalPartitions(dev *blockdev.Device, extStart, ss int64) []span {
	var rs []span
	buf := blockdev.AlignedBuffer(blockdev.Align)
	ebr := extStart
	for range 64 {
		off := ebr * ss
		if off+ss > dev.Size {
			break
		}
		base := alignDown(off, blockdev.Align)
		if _, err := dev.ReadAt(buf, base); err != nil {
			break
		}
		b := buf[off-base : off-base+512]
		if b[510] != 0x55 || b[511] != 0xaa {
			break
		}
		rs = append(rs, span{off, off + ss})
		first, count := int64(binary.LittleEndian.Uint32(b[446+8:])), int64(binary.LittleEndian.Uint32(b[446+12:]))
		if first > 0 && count > 0 {
			s, e := (ebr+first)*ss, (ebr+first+count)*ss
			rs = append(rs, span{s, s + mib}, span{e - mib, e})
		}
		next := int64(binary.LittleEndian.Uint32(b[462+8:]))
		if next == 0 {
			break
		}
		ebr = extStart + next
	}
	return rs
}
