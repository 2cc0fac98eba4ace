package allocmap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// readBytes runs Read on an in-memory disk.
func readBytes(t testing.TB, data []byte, opts Options) *Map {
	t.Helper()
	m, err := Read(bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatalf("Read() error = %v", err)
	}
	checkMap(t, m)
	return m
}

// gptDisk returns a 64 MiB disk image with a GPT of two empty partitions
// made by sgdisk.
func gptDisk(t testing.TB) []byte {
	t.Helper()
	img := looptest.Sparse(t, t.TempDir(), 64<<20)
	run(t, "sgdisk", "-n", "1:2048:+16M", "-t", "1:0700", "-n", "2:0:+32M", "-t", "2:8300", img)
	return readFile(t, img)
}

// where lists the partitions of m as "number@offset+size".
type where struct {
	Number       int
	Offset, Size int64
}

func wheres(m *Map) []where {
	var ws []where
	for _, p := range m.Partitions {
		ws = append(ws, where{p.Number, p.Offset, p.Size})
	}
	return ws
}

// TestGPTFallback: a damaged primary GPT (header or entries) is read from
// the backup and noted; with both damaged the whole disk is mapped.
func TestGPTFallback(t *testing.T) {
	testreq.Tools(t, "sgdisk")
	disk := gptDisk(t)
	want := []where{{1, 1 << 20, 16 << 20}, {2, 17 << 20, 32 << 20}}
	last := int64(len(disk)) - 512
	for _, tc := range []struct {
		name    string
		damage  []int64 // bytes to invert
		note    string
		partsOK bool
	}{
		{"clean", nil, "", true},
		{"primary header", []int64{512 + 40}, "primary GPT damaged (the GPT header at LBA 1 fails its CRC32); the backup at LBA 131071 was used", true},
		{"primary entries", []int64{1024 + 5}, "primary GPT damaged (the GPT partition entries of the header at LBA 1 fail their CRC32)", true},
		{"backup header", []int64{last + 40}, "backup GPT damaged (the GPT header at LBA 131071 fails its CRC32)", true},
		{"both", []int64{512 + 40, last + 40}, "no readable GPT: primary: the GPT header at LBA 1 fails its CRC32; backup: the GPT header at LBA 131071 fails its CRC32", false},
		{"primary names itself", nil, "primary GPT damaged (the GPT header at LBA 1 names itself as the other copy); the backup at LBA 131071 was used", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := bytes.Clone(disk)
			for _, off := range tc.damage {
				d[off] ^= 0xFF
			}
			if tc.name == "primary names itself" {
				binary.LittleEndian.PutUint64(d[512+32:], 1) // AlternateLBA, with a good CRC
				clear(d[512+16 : 512+20])
				binary.LittleEndian.PutUint32(d[512+16:], crc32.ChecksumIEEE(d[512:512+92]))
			}
			m := readBytes(t, d, Options{})
			if m.Table != GPT || !strings.HasPrefix(m.TableNote, tc.note) || (tc.note == "" && m.TableNote != "") {
				t.Errorf("Table, TableNote = %s, %q; want gpt, %q...", m.Table, m.TableNote, tc.note)
			}
			if !tc.partsOK {
				wantWhole(t, m, 0, "the disk has a protective MBR but neither GPT header can be read")
				return
			}
			if diff := cmp.Diff(want, wheres(m)); diff != "" {
				t.Errorf("partitions (-want +got):\n%s", diff)
			}
			// The primary and backup areas are mapped whatever they hold.
			for _, r := range []fsimage.Region{{Offset: 0, Length: 34 * 512}, {Offset: last - 32*512, Length: 33 * 512}} {
				if !covered(m.Ranges, r.Offset, r.Length) {
					t.Errorf("GPT area %+v is not mapped", r)
				}
			}
		})
	}
}

// TestMBRLogical: logical partitions in an extended partition are numbered
// from 5 as Linux numbers them, their EBRs are mapped; a looping EBR
// chain maps the extended partition whole.
func TestMBRLogical(t *testing.T) {
	img := looptest.Sparse(t, t.TempDir(), 64<<20)
	sfdisk(t, img, "label: dos\nstart=2048, size=8192, type=c\nstart=10240, size=100000, type=5\n"+
		"start=12288, size=8192, type=83\nstart=24576, size=8192, type=83\n")
	disk := readFile(t, img)
	m := readBytes(t, disk, Options{})
	want := []where{{1, 2048 * 512, 8192 * 512}, {5, 12288 * 512, 8192 * 512}, {6, 24576 * 512, 8192 * 512}}
	if diff := cmp.Diff(want, wheres(m)); diff != "" {
		t.Errorf("partitions (-want +got):\n%s", diff)
	}
	// System: the boot area before partition 1 and the two EBRs (the
	// second one sfdisk puts just before logical partition 6).
	if want := int64(2048*512 + 2*512); m.System != want {
		t.Errorf("System = %d, want %d (boot area and two EBRs)", m.System, want)
	}
	ebr2 := binary.LittleEndian.Uint32(disk[10240*512+446+16+8:])
	link := disk[(10240+int64(ebr2))*512+446+16:]
	link[4] = 0x05 // EBR 2 links to itself
	binary.LittleEndian.PutUint32(link[8:], ebr2)
	binary.LittleEndian.PutUint32(link[12:], 8192)
	m = readBytes(t, disk, Options{})
	wantWhole(t, m, 2, "extended partition: its chain of EBRs loops back to sector")
}

// TestTableEdges: partitions past the end of the disk are cut and noted,
// a hybrid MBR's own entries are mapped, a FAT boot sector that also looks
// like an MBR is mapped both ways, and a disk with nothing known on it is
// mapped whole.
func TestTableEdges(t *testing.T) {
	testreq.Tools(t, "sgdisk", "mkfs.fat")
	t.Run("past the end", func(t *testing.T) {
		img := looptest.Sparse(t, t.TempDir(), 64<<20)
		sfdisk(t, img, "label: dos\nstart=2048, size=100000, type=83\nstart=110000, size=1000, type=83\n")
		disk := readFile(t, img)
		binary.LittleEndian.PutUint32(disk[446+16+8:], 200000) // partition 2 moved past the end
		m := readBytes(t, disk[:80000*512], Options{})         // the image was cut short
		want := []where{{1, 2048 * 512, (80000 - 2048) * 512}}
		if diff := cmp.Diff(want, wheres(m)); diff != "" {
			t.Errorf("partitions (-want +got):\n%s", diff)
		}
		if !strings.Contains(m.TableNote, "partition 1 ends at sector 102048, past the end of the disk (80000 sectors)") ||
			!strings.Contains(m.TableNote, "partition 2 starts at sector 200000, past the end of the disk") {
			t.Errorf("TableNote = %q, want both partitions noted", m.TableNote)
		}
	})
	t.Run("hybrid MBR", func(t *testing.T) {
		disk := gptDisk(t)
		e := disk[446+16*2:]
		e[4] = 0x0c
		binary.LittleEndian.PutUint32(e[8:], 100000)
		binary.LittleEndian.PutUint32(e[12:], 2048)
		m := readBytes(t, disk, Options{})
		if n := len(m.Partitions); n != 3 || m.Partitions[2].What != "hybrid MBR entry 3" || m.Partitions[2].Offset != 100000*512 {
			t.Fatalf("Partitions = %+v, want the two GPT partitions and hybrid MBR entry 3", m.Partitions)
		}
		wantWhole(t, m, 0, "no filesystem flashpipe understands was found")
	})
	t.Run("FAT boot sector and MBR", func(t *testing.T) {
		img := looptest.Sparse(t, t.TempDir(), 40<<20)
		run(t, "mkfs.fat", "-F", "32", img)
		disk := readFile(t, img)
		clear(disk[446:510])
		e := disk[446:]
		e[4] = 0x83
		binary.LittleEndian.PutUint32(e[8:], 60000)
		binary.LittleEndian.PutUint32(e[12:], 2048)
		m := readBytes(t, disk, Options{})
		if m.Table != MBR || !strings.Contains(m.TableNote, "sector 0 holds both a partition table and a fat32 boot sector") {
			t.Errorf("Table, TableNote = %s, %q; want mbr, noting the FAT boot sector", m.Table, m.TableNote)
		}
		partition(t, m, 0, FAT32)
		wantWhole(t, m, 1, "no filesystem flashpipe understands was found")
	})
	t.Run("too many partitions", func(t *testing.T) {
		img := looptest.Sparse(t, t.TempDir(), 8<<20)
		args := []string{"--resize-table=300", "-a", "8"}
		for i := range 257 {
			args = append(args, "-n", fmt.Sprintf("%d:%d:%d", i+1, 2048+8*i, 2048+8*i+7))
		}
		run(t, "sgdisk", append(args, img)...)
		m := readBytes(t, readFile(t, img), Options{})
		wantWhole(t, m, 0, "the partition table lists more than 256 partitions")
		if len(m.Partitions) != 1 || m.Mapped() != 8<<20 {
			t.Errorf("Partitions, Mapped() = %d, %d; want the whole disk as one", len(m.Partitions), m.Mapped())
		}
	})
	t.Run("nothing known", func(t *testing.T) {
		disk := bytes.Repeat([]byte("garbage!"), 1<<17)
		copy(disk[3:], "NTFS    ")
		m := readBytes(t, disk, Options{})
		if m.Table != NoTable || m.Partitions[0].FS != "ntfs" {
			t.Errorf("Table, FS = %s, %s; want none, ntfs", m.Table, m.Partitions[0].FS)
		}
		wantWhole(t, m, 0, "ntfs: flashpipe does not read this filesystem")
		if m.Mapped() != int64(len(disk)) {
			t.Errorf("Mapped() = %d, want the whole disk (%d)", m.Mapped(), len(disk))
		}
	})
}

// TestSectorSizeDetection: with SectorSize 0, a GPT or an MBR written for
// 4096-byte sectors is read with them.
func TestSectorSizeDetection(t *testing.T) {
	testreq.Tools(t, "fdisk", "mkfs.fat")
	for label, script := range map[string]string{"gpt": "g\nn\n1\n256\n+32M\nw\n", "dos": "o\nn\np\n1\n256\n+32M\nw\n"} {
		t.Run(label, func(t *testing.T) {
			dir := t.TempDir()
			img := looptest.Sparse(t, dir, 64<<20)
			c := execCommand(testreq.Tool(t, "fdisk"), "-b", "4096", img)
			c.Stdin = strings.NewReader(script)
			if out, err := c.CombinedOutput(); err != nil {
				t.Fatalf("fdisk -b 4096 %s: %v\n%s", img, err, out)
			}
			fat := looptest.Sparse(t, dir, 32<<20)
			run(t, "mkfs.fat", "-F", "16", "-S", "4096", "-s", "1", fat)
			imagetest.Place(t, img, fat, 256*4096)
			m := readMap(t, img, Options{})
			if m.SectorSize != 4096 {
				t.Fatalf("SectorSize = %d, want 4096", m.SectorSize)
			}
			if p := partition(t, m, 1, FAT16); p.Offset != 1<<20 || p.Size != 32<<20 {
				t.Errorf("partition 1 at %d+%d, want %d+%d", p.Offset, p.Size, 1<<20, 32<<20)
			}
		})
	}
}

// TestAlign: ranges are widened to whole blocks, merged, and cut at the
// end of the disk.
func TestAlign(t *testing.T) {
	in := []fsimage.Region{{Offset: 5000, Length: 10}, {Offset: 0, Length: 512}, {Offset: 8191, Length: 2}, {Offset: 20000, Length: 100}}
	got := alignRanges(normalize(in), 4096, 20050)
	want := []fsimage.Region{{Offset: 0, Length: 12288}, {Offset: 16384, Length: 20050 - 16384}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alignRanges() (-want +got):\n%s", diff)
	}
}

// TestCRC16: the kernel's crc16 (CRC-16/ARC polynomial) started at 0xFFFF
// is CRC-16/MODBUS, whose check value is 0x4B37.
func TestCRC16(t *testing.T) {
	if got := crc16(0xFFFF, []byte("123456789")); got != 0x4B37 {
		t.Errorf("crc16(0xFFFF, \"123456789\") = %#x, want 0x4b37", got)
	}
}
