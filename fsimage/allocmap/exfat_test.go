package allocmap

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// makeExFAT builds an exFAT volume of size bytes, on a loop device with
// logical sectors of ss bytes, holding content (written through
// exfat-fuse, victims then deleted, leaving stale data), and returns its
// image.
func makeExFAT(t testing.TB, size int64, ss int, args []string, cont content) string {
	t.Helper()
	img := looptest.Sparse(t, t.TempDir(), size)
	loop := looptest.Attach(t, img, ss)
	run(t, "mkfs.exfat", append(append([]string{}, args...), loop)...)
	mnt, umount := imagetest.MountExFAT(t, loop, true)
	cont.write(t, mnt, true)
	for v := range cont.victims {
		if err := os.Remove(filepath.Join(mnt, filepath.FromSlash(v))); err != nil {
			t.Fatal(err)
		}
	}
	umount()
	return img
}

// exfatUsed returns what dump.exfat says of the volume: where the cluster
// heap starts (bytes), the cluster size and the clusters in use.
func exfatUsed(t testing.TB, img string) (heap, cs, used int64) {
	t.Helper()
	n := numbers(t, run(t, "dump.exfat", img), `Sector Size Bits:\s+(\d+)`, `Cluster Heap Offset \(sector offset\):\s+(\d+)`,
		`Cluster size:\s+(\d+)`, `Total Clusters:\s+(\d+)`, `Free Clusters:\s+(\d+)`)
	return n[1] << n[0], n[2], n[3] - n[4]
}

// TestExFATOracle maps exFAT volumes with deleted files, copies only the
// mapped ranges onto garbage, and shows that fsck.exfat finds the copy
// clean with every file equal (read through exfat-fuse), that exactly the
// area before the cluster heap and the clusters dump.exfat counts used
// were mapped, and that no block of a deleted file was.
func TestExFATOracle(t *testing.T) {
	imagetest.NeedExFATMount(t)
	testreq.Tools(t, "mkfs.exfat", "fsck.exfat", "dump.exfat")
	for _, tc := range []struct {
		name string
		size int64
		ss   int
		args []string
	}{
		{"4k clusters", 64 << 20, 0, []string{"-c", "4096"}},
		{"default", 256 << 20, 0, nil},
		{"4k sectors", 64 << 20, 4096, []string{"-c", "8192"}},
		{"packed bitmap", 64 << 20, 0, []string{"-c", "4096", "--pack-bitmap"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cont := rpiContent(4)
			img := makeExFAT(t, tc.size, tc.ss, tc.args, cont)
			heap, cs, used := exfatUsed(t, img)
			checkVolume(t, img, ExFAT, heap+used*cs,
				fmt.Sprintf("cluster heap at %d + %d used clusters of %d, as dump.exfat counts", heap, used, cs),
				1000, func(vol string) { checkExFAT(t, vol, cont) })
		})
	}
}

// checkExFAT runs fsck.exfat on the exFAT volume vol and compares its
// files, read through exfat-fuse, with content's.
func checkExFAT(t testing.TB, vol string, cont content) {
	t.Helper()
	if out, err := runErr(t, "fsck.exfat", "-n", vol); err != nil {
		t.Errorf("fsck.exfat -n on the copy: %v\n%s", err, out)
	}
	mnt, _ := imagetest.MountExFAT(t, looptest.AttachReadOnly(t, vol), false)
	cont.sameTree(t, mnt)
}

// TestExFATNotUnderstood: a volume marked dirty, with a damaged boot
// checksum or without its allocation bitmap is mapped whole. mkfs.exfat
// alone makes the volume (no mount needed).
func TestExFATNotUnderstood(t *testing.T) {
	testreq.Tools(t, "mkfs.exfat")
	img := looptest.Sparse(t, t.TempDir(), 64<<20)
	run(t, "mkfs.exfat", "-c", "4096", img)
	data := readFile(t, img)
	heap := int64(le32(data, 88)) * 512
	rootClus := le32(data, 96)
	root := heap + (int64(rootClus)-2)*4096
	rootFAT := int64(le32(data, 80))*512 + int64(rootClus)*4
	for _, tc := range []struct {
		name   string
		off    int64
		b      []byte
		reason string
	}{
		{"dirty", 106, []byte{2}, "exfat: the volume is marked dirty"},
		{"boot checksum", 200, []byte{1}, "exfat: the main boot region fails its checksum"},
		{"no bitmap", root + 32, []byte{0x01}, "exfat: the root directory lists 0+0 allocation bitmaps"},
		{"root outside", 96, []byte{0xFF, 0xFF, 0, 0}, "exfat: the root directory is at cluster 65535"},
		{"root chain loops", rootFAT, binary.LittleEndian.AppendUint32(nil, rootClus), "exfat: the root directory's cluster chain is longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantWhole(t, readMap(t, patched(t, img, tc.off, tc.b), Options{}), 0, tc.reason)
		})
	}
}
