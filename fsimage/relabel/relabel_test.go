package relabel

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage/allocmap"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
)

// TestPatchSuperfloppy labels volumes made by each filesystem's own mkfs,
// with and without a label before, as whole images: blkid reads the new
// label and the filesystem's checker finds the volume clean.
func TestPatchSuperfloppy(t *testing.T) {
	cases := []struct {
		name, kind string
		mib        int64
		old, label string
		want       string // blkid's LABEL
		extra      []string
	}{
		{"fat12 labelled", "fat12", 4, "OLD", "stick-0042", "STICK-0042", nil},
		{"fat12 unlabelled", "fat12", 4, "", "NEW", "NEW", nil},
		{"fat16", "fat16", 32, "OLD", "HALL A 7", "HALL A 7", nil},
		{"fat32", "fat32", 64, "RASPI BOOT", "BOOT-7", "BOOT-7", nil},
		{"fat32 unlabelled", "fat32", 64, "", "BOOT-7", "BOOT-7", nil},
		{"exfat", "exfat", 16, "Old", "Messe-0042", "Messe-0042", nil},
		{"exfat unicode", "exfat", 16, "", "Größe 7", "Größe 7", nil},
		{"ext4 metadata_csum", "ext4", 64, "rootfs", "root-0042", "root-0042", []string{"-O", "metadata_csum", "-b", "4096", "-g", "2048"}},
		{"ext4 without metadata_csum", "ext4", 32, "rootfs", "sixteen-bytes-ok", "sixteen-bytes-ok", []string{"-O", "^metadata_csum", "-b", "1024"}},
		{"ext2 every group", "ext2", 16, "", "x", "x", []string{"-O", "^sparse_super,^resize_inode", "-b", "1024", "-g", "1024"}},
		{"ext4 sparse_super2", "ext4", 64, "old", "new", "new", []string{"-O", "sparse_super2", "-b", "4096", "-g", "2048"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := mkfs(t, t.TempDir(), c.kind, c.mib, c.old, c.extra...)
			v, res := labelImage(t, img, 0, c.label)
			if res.Label != c.want {
				t.Errorf("Patch(%q).Label = %q, want %q", c.label, res.Label, c.want)
			}
			if got := imagetest.BlkidLabel(t, img, 0); got != c.want {
				t.Errorf("blkid LABEL = %q, want %q", got, c.want)
			}
			fsck(t, img, v)
			if v.Rules() == "ext4" {
				checkBackups(t, img, v, c.want)
			}
		})
	}
}

// checkBackups reads the label of every backup superblock with dumpe2fs
// (which checks each one's checksum): each holds the new label.
func checkBackups(t *testing.T, img string, v *Volume, want string) {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x, err := parseExt(&volume{d: &disk{r: f, size: v.Offset + v.Size}, off: v.Offset, size: v.Size, name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(x.backupGroups) == 0 {
		t.Fatalf("the test filesystem has no backup superblocks")
	}
	dump := run(t, "dumpe2fs", "-h", img)
	if !strings.Contains(dump, "Filesystem volume name:   "+want+"\n") {
		t.Errorf("dumpe2fs -h (primary) does not name the label %q:\n%s", want, dump)
	}
	for _, g := range x.backupGroups {
		blk := x.firstData + g*x.bpg
		dump := run(t, "dumpe2fs", "-h", "-o", fmt.Sprintf("superblock=%d", blk), "-o", fmt.Sprintf("blocksize=%d", x.bs), img)
		if !strings.Contains(dump, "Filesystem volume name:   "+want+"\n") {
			t.Errorf("dumpe2fs -h -o superblock=%d (group %d) does not name the label %q:\n%s", blk, g, want, dump)
		}
	}
}

// TestPatchFATFields: the boot sector's label field, the FAT32 backup
// boot sector and the root directory entry all hold the label (fsck.fat
// compares the boot sector with its backup); an empty label writes "NO
// NAME" and deletes the entry, as fatlabel does.
func TestPatchFATFields(t *testing.T) {
	img := mkfs(t, t.TempDir(), "fat32", 64, "RASPI BOOT")
	v, _ := labelImage(t, img, 0, "boot-7")
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	bk := int(binary.LittleEndian.Uint16(data[50:])) * 512
	for _, off := range []int{71, bk + 71} {
		if got := string(data[off : off+11]); got != "BOOT-7     " {
			t.Errorf("label field at byte %d = %q, want %q", off, got, "BOOT-7     ")
		}
	}
	fsck(t, img, v)
	labelImage(t, img, 0, "")
	if got := imagetest.BlkidLabel(t, img, 0); got != "" {
		t.Errorf("blkid LABEL after an empty label = %q, want none", got)
	}
	data, _ = os.ReadFile(img)
	if got := string(data[71:82]); got != "NO NAME    " {
		t.Errorf("boot sector label after an empty label = %q, want NO NAME", got)
	}
	fsck(t, img, v)
}

// TestPatchPartitions labels each partition of MBR and GPT disks laid out
// as Raspberry Pi OS ships (FAT32 boot, ext4 root), and an exFAT data
// partition: only that partition changes, and blkid reads the label at
// its offset.
func TestPatchPartitions(t *testing.T) {
	for _, table := range []string{"mbr", "gpt"} {
		t.Run(table, func(t *testing.T) {
			dir := t.TempDir()
			img := imagetest.PiDisk(t, dir, table)
			orig, _ := os.ReadFile(img)
			for n, label := range map[int]string{1: "BOOT-0042", 2: "root-0042", 3: "Daten-0042"} {
				v, res := labelImage(t, img, n, label)
				if got := imagetest.BlkidLabel(t, img, v.Offset); got != res.Label {
					t.Errorf("partition %d: blkid LABEL = %q, want %q", n, got, res.Label)
				}
				for _, e := range res.Extents {
					if e.Offset < v.Offset || e.End() > v.Offset+v.Size {
						t.Errorf("partition %d: %s at %d lies outside the partition", n, e.What, e.Offset)
					}
				}
				fsck(t, img, v)
			}
			now, _ := os.ReadFile(img)
			if !bytes.Equal(now[:1<<20], orig[:1<<20]) {
				t.Errorf("the partition table area changed")
			}
		})
	}
}

// TestPatchRefuses: what cannot be labelled is an error that says why,
// and nothing is returned to write.
func TestPatchRefuses(t *testing.T) {
	dir := t.TempDir()
	img := imagetest.PiDisk(t, dir, "mbr")
	fullRoot := mkfs(t, dir, "fat16", 32, "", "-r", "64")
	args := []string{"-i", fullRoot}
	for i := range 64 { // as many as the root directory holds
		name := filepath.Join(dir, fmt.Sprintf("F%02d.TXT", i))
		if err := os.WriteFile(name, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, name)
	}
	run(t, "mcopy", append(args, "::")...)
	cases := []struct {
		name, img string
		n         int
		label     string
		want      string
	}{
		{"no such partition", img, 7, "X", "no partition 7; its MBR partition table lists partitions 1 ("},
		{"partition 0 of a table", img, 0, "X", "partition 0 is the volume of an image without a partition table"},
		{"partition of a superfloppy", fullRoot, 1, "X", "the image has no partition table, so it has no partition 1"},
		{"unformatted", img, 4, "X", "partition 4 holds no filesystem flashpipe knows (is it formatted?)"},
		{"fat label too long", img, 1, "TWELVE_CHARS", "is 12 characters long; a FAT label holds at most 11"},
		{"fat label character", img, 1, "A/B", "contains '/'"},
		{"exfat label too long", img, 3, "Ausstellung 26", "exFAT allows 11"},
		{"ext label too long", img, 2, "seventeen-bytes-x", "ext4 allows 16"},
		{"root directory full", fullRoot, 0, "X", "the FAT root directory has no free entry for the volume label"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := os.Open(c.img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			v, err := Find(f, st.Size(), c.n)
			var res *Result
			if err == nil {
				res, err = Patch(f, st.Size(), v, c.label, time.Now())
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || res != nil {
				t.Errorf("Find+Patch(partition %d, %q) = %v, %v; want an error containing %q", c.n, c.label, res, err, c.want)
			}
		})
	}
}

// TestExtNeedsRecovery: an ext4 whose journal needs recovery is refused,
// and so is one whose superblock fails its checksum.
func TestExtNeedsRecovery(t *testing.T) {
	img := mkfs(t, t.TempDir(), "ext4", 32, "rootfs", "-O", "metadata_csum")
	data, _ := os.ReadFile(img)
	sb := data[1024:2048]
	binary.LittleEndian.PutUint32(sb[0x60:], binary.LittleEndian.Uint32(sb[0x60:])|extIncompatRecover)
	binary.LittleEndian.PutUint32(sb[extChecksumOff:], extChecksum(sb))
	v := &Volume{Offset: 0, Size: int64(len(data))}
	if err := v.Identify(bytes.NewReader(data), int64(len(data))); err == nil || !strings.Contains(err.Error(), "journal needs recovery") {
		t.Errorf("Identify(needs_recovery) = %v, want the journal refused", err)
	}
	sb[extLabelOff] ^= 1
	if err := v.Identify(bytes.NewReader(data), int64(len(data))); err == nil || !strings.Contains(err.Error(), "fails its checksum") {
		t.Errorf("Identify(bad checksum) = %v, want the checksum refused", err)
	}
}

// TestBackupGroups: the groups holding backup superblocks, as
// ext2fs_bg_has_super places them.
func TestBackupGroups(t *testing.T) {
	cases := []struct {
		groups          int64
		sparse, sparse2 bool
		named           [2]int64
		want            []int64
	}{
		{1, true, false, [2]int64{}, nil},
		{2, true, false, [2]int64{}, []int64{1}},
		{100, true, false, [2]int64{}, []int64{1, 3, 5, 7, 9, 25, 27, 49, 81}},
		{5, false, false, [2]int64{}, []int64{1, 2, 3, 4}},
		{100, true, true, [2]int64{1, 99}, []int64{1, 99}},
		{100, true, true, [2]int64{0, 0}, nil},
		{10, true, true, [2]int64{7, 7}, []int64{7}},
	}
	for _, c := range cases {
		got, err := backupGroups(c.groups, c.sparse, c.sparse2, c.named)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("backupGroups(%d, %v, %v, %v) = %v, %v; want %v", c.groups, c.sparse, c.sparse2, c.named, got, err, c.want)
		}
	}
	if _, err := backupGroups(extMaxBackups+2, false, false, [2]int64{}); err == nil {
		t.Errorf("backupGroups(%d groups, no sparse_super) = nil error, want too many", extMaxBackups+2)
	}
}

// TestFindNumbersAsLinux: partitions are numbered as Linux numbers them;
// allocmap reads the table.
func TestFindNumbersAsLinux(t *testing.T) {
	img := imagetest.PiDisk(t, t.TempDir(), "gpt")
	f, _ := os.Open(img)
	defer f.Close()
	v, err := Find(f, 200<<20, 2)
	if err != nil || v.Offset != 133120*512 || v.Size != 64<<20 || v.String() != "partition 2" {
		t.Fatalf("Find(gpt, 2) = %+v, %v; want 64 MiB at sector 133120", v, err)
	}
	if err := v.Identify(f, 200<<20); err != nil || v.FS != allocmap.Ext4 || v.Rules() != "ext4" {
		t.Errorf("Identify = %v, FS %q, rules %q; want ext4", err, v.FS, v.Rules())
	}
}
