package allocmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// table is a disk's partition table as read: its partitions and the bytes
// it occupies.
type table struct {
	kind   Table
	notes  []string
	note   string
	parts  []Partition
	system runs // disk offsets mapped for the table itself
}

func (t *table) notef(format string, a ...any) { t.notes = append(t.notes, fmt.Sprintf(format, a...)) }

// mbrEntry is one of the four entries of an MBR or an EBR.
type mbrEntry struct {
	slot   int // 1..4
	status byte
	typ    byte
	start  uint32 // sectors
	count  uint32 // sectors
}

// MBR partition types with a meaning here.
const (
	typeProtective = 0xEE
)

func isExtended(typ byte) bool { return typ == 0x05 || typ == 0x0F || typ == 0x85 }

// parseMBR reads the four entries of an MBR (or EBR) sector. ok is false
// when the sector is not one: no 0x55AA signature, or a status byte other
// than 0x00 and 0x80 (what Linux checks; a FAT boot sector usually fails
// it). Entries with no sectors are left out, entries of type 0 are not:
// Linux makes partitions of them (isohybrid ISOs use one).
func parseMBR(b []byte) (entries []mbrEntry, ok bool) {
	if len(b) < 512 || b[510] != 0x55 || b[511] != 0xAA {
		return nil, false
	}
	for i := range 4 {
		e := b[446+16*i : 446+16*(i+1)]
		if e[0] != 0 && e[0] != 0x80 {
			return nil, false
		}
		me := mbrEntry{slot: i + 1, status: e[0], typ: e[4],
			start: binary.LittleEndian.Uint32(e[8:]), count: binary.LittleEndian.Uint32(e[12:])}
		if me.count != 0 {
			entries = append(entries, me)
		}
	}
	return entries, true
}

// readTable reads the partition table of d.
func readTable(d *disk) (*table, error) {
	t := &table{}
	if d.size < 512 {
		t.kind = NoTable
		t.parts = []Partition{wholeDisk(d, "the whole disk (no partition table)")}
		return t, nil
	}
	s0, err := d.read(0, 512)
	if err != nil {
		return nil, err
	}
	entries, ok := parseMBR(s0)
	switch {
	case ok && hasProtective(entries):
		t.kind = GPT
		err = readGPT(d, t, entries)
	case ok && len(entries) > 0:
		t.kind = MBR
		err = readMBR(d, t, entries)
	default:
		t.kind = NoTable
		t.parts = []Partition{wholeDisk(d, "the whole disk (no partition table)")}
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	t.system.add(0, 512)
	t.finish(d)
	return t, nil
}

func hasProtective(entries []mbrEntry) bool {
	for _, e := range entries {
		if e.typ == typeProtective {
			return true
		}
	}
	return false
}

func wholeDisk(d *disk, what string) Partition {
	return Partition{What: what, Offset: 0, Size: d.size}
}

// maxPartitions bounds the partitions Read looks into (Linux shows at most
// 256 per disk): a hostile table cannot make it read without end.
const maxPartitions = 256

// finish maps the boot area (everything before the first partition, where
// boot loaders such as U-Boot live), and notes a disk without partitions.
// A table with more than maxPartitions partitions maps the whole disk.
func (t *table) finish(d *disk) {
	if len(t.parts) > maxPartitions {
		t.notef("the %s partition table lists %d partitions, more than %d", t.kind, len(t.parts), maxPartitions)
		t.parts = []Partition{{What: "the whole disk (too many partitions)", Size: d.size, FS: Unknown, Whole: true,
			Reason: fmt.Sprintf("the partition table lists more than %d partitions", maxPartitions)}}
	}
	first := d.size
	for _, p := range t.parts {
		first = min(first, p.Offset)
	}
	if len(t.parts) == 0 {
		t.notef("the %s partition table lists no partitions; the whole disk was mapped", t.kind)
	}
	t.system.add(0, first)
	t.note = strings.Join(t.notes, "; ")
}

// clip returns the part of [start, start+count) sectors that lies on the
// disk, in bytes, noting a partition that does not fit. ok is false when
// nothing of it does.
func (t *table) clip(d *disk, what string, start, count uint64) (off, size int64, ok bool) {
	n := uint64(d.sectors())
	if start >= n {
		t.notef("%s starts at sector %d, past the end of the disk (%d sectors); it was left out", what, start, n)
		return 0, 0, false
	}
	if count > n-start {
		t.notef("%s ends at sector %d, past the end of the disk (%d sectors); only its part on the disk was mapped",
			what, start+count, n)
		count = n - start
	}
	return int64(start) * int64(d.ss), int64(count) * int64(d.ss), true
}

// readMBR adds the primary partitions of an MBR and the logical ones of
// its extended partitions. A FAT or exFAT boot sector (or ext superblock)
// at the start of the disk as well makes sector 0 ambiguous: the whole-disk
// volume is then mapped too.
func readMBR(d *disk, t *table, entries []mbrEntry) error {
	for _, e := range entries {
		what := fmt.Sprintf("partition %d", e.slot)
		off, size, ok := t.clip(d, what, uint64(e.start), uint64(e.count))
		if !ok {
			continue
		}
		if isExtended(e.typ) {
			if err := readEBRs(d, t, e, off, size); err != nil {
				return err
			}
			continue
		}
		t.parts = append(t.parts, Partition{Number: e.slot, What: what, Offset: off, Size: size, Type: mbrType(e.typ)})
	}
	fs, _, err := detect(&volume{d: d, off: 0, size: d.size})
	var nu *notUnderstood
	if err != nil && !errors.As(err, &nu) {
		return err
	}
	if fs.Understood() {
		t.notef("sector 0 holds both a partition table and a %s boot sector; both were mapped", fs)
		t.parts = append(t.parts, wholeDisk(d, "the whole disk (a filesystem at sector 0)"))
	}
	return nil
}

func mbrType(typ byte) string { return fmt.Sprintf("0x%02x", typ) }

// maxLogical bounds the EBR chain (Linux reads at most a few hundred).
const maxLogical = 128

// readEBRs follows the chain of EBRs of the extended partition e (at off,
// size bytes) and adds its logical partitions, numbered from 5 as Linux
// does. A broken chain maps the whole extended partition.
func readEBRs(d *disk, t *table, e mbrEntry, off, size int64) error {
	ss := int64(d.ss)
	ext := int64(e.start)
	next := ext
	seen := map[int64]bool{}
	for n := 5; ; n++ {
		reason := ""
		switch {
		case n-5 >= maxLogical:
			reason = fmt.Sprintf("its chain of EBRs is longer than %d", maxLogical)
		case seen[next]:
			reason = fmt.Sprintf("its chain of EBRs loops back to sector %d", next)
		case next < ext || (next-ext+1)*ss > size:
			reason = fmt.Sprintf("an EBR at sector %d lies outside it", next)
		}
		if reason != "" {
			return wholeExtended(t, e, off, size, reason)
		}
		seen[next] = true
		b, err := d.read(next*ss, 512)
		if err != nil {
			return err
		}
		t.system.add(next*ss, ss)
		ents, ok := parseMBR(b)
		if !ok {
			return wholeExtended(t, e, off, size, fmt.Sprintf("the EBR at sector %d has no valid signature", next))
		}
		var link *mbrEntry
		for i := range ents {
			switch {
			case ents[i].slot == 1:
				what := fmt.Sprintf("logical partition %d", n)
				if o, s, ok := t.clip(d, what, uint64(next)+uint64(ents[i].start), uint64(ents[i].count)); ok {
					t.parts = append(t.parts, Partition{Number: n, What: what, Offset: o, Size: s, Type: mbrType(ents[i].typ)})
				}
			case ents[i].slot == 2 && isExtended(ents[i].typ):
				link = &ents[i]
			}
		}
		if link == nil {
			return nil
		}
		next = ext + int64(link.start)
	}
}

// wholeExtended maps the extended partition e whole, as a partition the
// operator sees with the reason.
func wholeExtended(t *table, e mbrEntry, off, size int64, reason string) error {
	t.parts = append(t.parts, Partition{Number: e.slot, What: fmt.Sprintf("extended partition %d", e.slot),
		Offset: off, Size: size, Type: mbrType(e.typ), FS: Unknown, Whole: true,
		Reason: "extended partition: " + reason})
	return nil
}
