package allocmap

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// fatCase is a FAT volume made by mkfs.fat.
type fatCase struct {
	fs     FS
	sizeKB int64    // volume size in KiB
	args   []string // mkfs.fat arguments besides the size
	scale  int      // content scale (see rpiContent)
}

var fatCases = []fatCase{
	{FAT12, 4 << 10, []string{"-F", "12"}, 1},
	{FAT16, 32 << 10, []string{"-F", "16", "-s", "4"}, 4},
	{FAT32, 40 << 10, []string{"-F", "32", "-s", "1"}, 4},
}

// makeFAT builds a FAT volume of c holding content (the victims written
// and then deleted with mdel, so their clusters hold stale data) and
// returns its image.
func makeFAT(t testing.TB, c fatCase, cont content) string {
	t.Helper()
	img := looptest.Sparse(t, t.TempDir(), c.sizeKB<<10)
	run(t, "mkfs.fat", append(append([]string{}, c.args...), img)...)
	src := t.TempDir()
	cont.write(t, src, true)
	for _, dir := range []string{"overlays", "big"} {
		run(t, "mcopy", "-s", "-i", img, filepath.Join(src, dir), "::/")
	}
	for _, f := range []string{"kernel8.img", "cmdline.txt", "old-kernel.img", "config.txt", "bcm2712-rpi-5-b.dtb", "empty.txt"} {
		run(t, "mcopy", "-i", img, filepath.Join(src, f), "::/")
	}
	for v := range cont.victims {
		run(t, "mdel", "-i", img, "::/"+v)
	}
	return img
}

// fatUsed returns what fsck.fat -v says of the volume at img: where the
// data area starts, the cluster size and the clusters in use.
func fatUsed(t testing.TB, img string) (dataStart, clusterSize, used int64) {
	t.Helper()
	n := numbers(t, run(t, "fsck.fat", "-n", "-v", img), `Data area starts at byte (\d+)`, `(\d+) bytes per cluster`, `files, (\d+)/\d+ clusters`)
	return n[0], n[1], n[2]
}

// TestFATOracle maps FAT12, FAT16 and FAT32 volumes with deleted files,
// copies only the mapped ranges onto garbage, and shows that fsck.fat
// finds the copy clean with every file equal (nothing needed was left
// out), that exactly the metadata and the clusters fsck.fat counts used
// were mapped, and that no block of a deleted file was.
func TestFATOracle(t *testing.T) {
	testreq.Tools(t, "mkfs.fat", "mcopy", "mdel", "fsck.fat")
	for _, c := range fatCases {
		t.Run(string(c.fs), func(t *testing.T) {
			cont := rpiContent(c.scale)
			img := makeFAT(t, c, cont)
			dataStart, cs, used := fatUsed(t, img)
			checkVolume(t, img, c.fs, dataStart+used*cs,
				fmt.Sprintf("data area at %d + %d used clusters of %d, as fsck.fat counts", dataStart, used, cs),
				100*c.scale, func(vol string) { checkFAT(t, vol, cont) })
		})
	}
}

// checkFAT runs fsck.fat on the FAT volume vol and compares its files,
// read with mcopy, with content's.
func checkFAT(t testing.TB, vol string, cont content) {
	t.Helper()
	if out, err := runErr(t, "fsck.fat", "-n", vol); err != nil {
		t.Errorf("fsck.fat -n on the copy: %v\n%s", err, out)
	}
	dir := t.TempDir()
	run(t, "mcopy", "-s", "-n", "-i", vol, "::/*", dir)
	cont.sameTree(t, dir)
}

func TestFATNotUnderstood(t *testing.T) {
	testreq.Tools(t, "mkfs.fat")
	img := looptest.Sparse(t, t.TempDir(), 40<<20)
	run(t, "mkfs.fat", "-F", "32", img)
	fat2 := 16384 + int64(le32(readFile(t, img), 36))*512
	for _, tc := range []struct {
		name   string
		off    []int64
		b      []byte
		reason string
	}{
		{"dirty flag", []int64{65}, []byte{1}, "fat32: the dirty flag is set"},
		{"FAT[1] unclean", []int64{16384 + 7}, []byte{0x07}, "fat32: FAT[1] says it was not cleanly unmounted"},
		{"media byte", []int64{16384}, []byte{0xF0}, "fat32: FAT[0] holds media byte 0xf0"},
		{"too big", []int64{32}, []byte{0, 0, 0, 1}, "vfat: the boot sector claims 8589934592 bytes"},
		{"root cluster free", []int64{16384 + 8, fat2 + 8}, []byte{0, 0, 0, 0}, "fat32: the root directory's cluster 2 is free"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := img
			for _, off := range tc.off {
				p = patched(t, p, off, tc.b)
			}
			m := readMap(t, p, Options{})
			wantWhole(t, m, 0, tc.reason)
		})
	}
}

// patched returns a copy of img with b written at off.
func patched(t testing.TB, img string, off int64, b []byte) string {
	t.Helper()
	data := readFile(t, img)
	copy(data[off:], b)
	p := filepath.Join(t.TempDir(), fmt.Sprintf("patched-%d.img", off))
	writeFile(t, p, data)
	return p
}
