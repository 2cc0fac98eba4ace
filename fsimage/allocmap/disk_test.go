package allocmap

import (
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// piDisk is a disk laid out as Raspberry Pi OS ships: a FAT32 boot
// partition at 1 MiB and an ext4 root partition after it.
type piDisk struct {
	img              string
	boot, root       content
	bootUsed         int64 // bytes of the boot partition in use (fsck.fat)
	rootUsed         int64 // bytes of the root partition in use (dumpe2fs)
	bootOff, rootOff int64
	bootLen, rootLen int64
}

const (
	piBootOff = 1 << 20
	piBootLen = 48 << 20
	piRootOff = piBootOff + piBootLen
	piRootLen = 64 << 20
	piDiskLen = piRootOff + piRootLen + 1<<20
)

// makePiDisk builds the two filesystems (with deleted files), partitions a
// disk image with table ("dos" through sfdisk, "gpt" through sgdisk) and
// copies the filesystems into their partitions.
func makePiDisk(t testing.TB, table string) *piDisk {
	t.Helper()
	testreq.Tools(t, "mkfs.fat", "mcopy", "mdel", "fsck.fat", "mke2fs", "debugfs", "dumpe2fs", "e2fsck", "sfdisk", "sgdisk")
	dir := t.TempDir()
	d := &piDisk{img: looptest.Sparse(t, dir, piDiskLen), boot: rpiContent(4), root: rpiContent(4),
		bootOff: piBootOff, bootLen: piBootLen, rootOff: piRootOff, rootLen: piRootLen}
	bootImg := makeFAT(t, fatCase{fs: FAT32, sizeKB: piBootLen >> 10, args: []string{"-F", "32", "-s", "1"}}, d.boot)
	rootImg := makeExt(t, extCase{size: piRootLen, args: []string{"-t", "ext4", "-b", "4096", "-g", "2048"}}, d.root)
	dataStart, cs, used := fatUsed(t, bootImg)
	d.bootUsed = dataStart + used*cs
	bs, blocks := extUsed(t, rootImg)
	d.rootUsed = bs * blocks
	if table == "gpt" {
		run(t, "sgdisk", "-n", "1:2048:+48M", "-t", "1:0700", "-c", "1:bootfs", "-n", "2:0:+64M", "-t", "2:8300", "-c", "2:rootfs", d.img)
	} else {
		sfdisk(t, d.img, "label: dos\nstart=2048, size=98304, type=c\nstart=100352, size=131072, type=83\n")
	}
	imagetest.Place(t, d.img, bootImg, piBootOff)
	imagetest.Place(t, d.img, rootImg, piRootOff)
	return d
}

// sfdisk partitions img with script.
func sfdisk(t testing.TB, img, script string, args ...string) {
	t.Helper()
	cmd := []string{"--no-reread", "--no-tell-kernel", "-q"}
	path := testreq.Tool(t, "sfdisk")
	c := execCommand(path, append(append(cmd, args...), img)...)
	c.Stdin = strings.NewReader(script)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk %s: %v\n%s", img, err, out)
	}
}

// TestDiskOracle maps two-partition disks (FAT32 boot + ext4 root, as
// Raspberry Pi OS ships) with an MBR and with a GPT, copies only the
// mapped ranges onto garbage, and shows that the copy's partition table
// equals the original's and that both filesystems check clean with every
// file equal; that each partition maps exactly what its filesystem uses,
// the disk itself only the table and the boot area; and that no block of
// a deleted file was mapped.
func TestDiskOracle(t *testing.T) {
	for _, tc := range []struct {
		table  string
		kind   Table
		system int64
		types  [2]string
	}{
		{"dos", MBR, piBootOff, [2]string{"0x0c", "0x83"}},
		{"gpt", GPT, piBootOff + 33*512, [2]string{"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "0FC63DAF-8483-4772-8E79-3D69D8477DE4"}},
	} {
		t.Run(tc.table, func(t *testing.T) {
			d := makePiDisk(t, tc.table)
			m := readMap(t, d.img, Options{BlockSize: 512})
			if m.Table != tc.kind || m.SectorSize != 512 || m.TableNote != "" || m.System != tc.system {
				t.Errorf("Table, SectorSize, TableNote, System = %s, %d, %q, %d; want %s, 512, \"\", %d",
					m.Table, m.SectorSize, m.TableNote, m.System, tc.kind, tc.system)
			}
			if len(m.Partitions) != 2 {
				t.Fatalf("Partitions = %+v, want 2", m.Partitions)
			}
			boot, root := partition(t, m, 1, FAT32), partition(t, m, 2, Ext4)
			checkPart(t, boot, d.bootOff, d.bootLen, tc.types[0], d.bootUsed)
			checkPart(t, root, d.rootOff, d.rootLen, tc.types[1], d.rootUsed)
			checkStale(t, d.img, m, 2000)
			cp := copyMapped(t, d.img, m)
			checkTable(t, d.img, cp, tc.table)
			checkFAT(t, imagetest.Extract(t, cp, d.bootOff, d.bootLen), d.boot)
			checkExt(t, imagetest.Extract(t, cp, d.rootOff, d.rootLen), d.root)
		})
	}
}

// checkPart compares a partition with where it was put and what its
// filesystem uses.
func checkPart(t testing.TB, p Partition, off, size int64, typ string, used int64) {
	t.Helper()
	if p.Offset != off || p.Size != size || p.Type != typ || p.Mapped != used {
		t.Errorf("%s: Offset, Size, Type, Mapped = %d, %d, %s, %d; want %d, %d, %s, %d",
			p.What, p.Offset, p.Size, p.Type, p.Mapped, off, size, typ, used)
	}
}

// checkTable fails the test unless sfdisk dumps the same table from the
// copy as from the original and, for a GPT, sgdisk -v finds no problem.
func checkTable(t testing.TB, orig, cp, table string) {
	t.Helper()
	want, got := run(t, "sfdisk", "-d", orig), run(t, "sfdisk", "-d", cp)
	want = strings.ReplaceAll(want, orig, "DISK")
	if got = strings.ReplaceAll(got, cp, "DISK"); got != want {
		t.Errorf("sfdisk -d of the copy:\n%s\nwant (the original's):\n%s", got, want)
	}
	if table == "gpt" {
		if out := run(t, "sgdisk", "-v", cp); !strings.Contains(out, "No problems found") {
			t.Errorf("sgdisk -v on the copy:\n%s", out)
		}
	}
}
