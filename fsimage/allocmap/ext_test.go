package allocmap

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// extCase is an ext2/3/4 volume made by mke2fs.
type extCase struct {
	name string
	fs   FS
	size int64    // bytes
	args []string // mke2fs arguments besides -d and the image
}

// extCases cover the layouts the mapper must get right: 4k and 1k blocks,
// with and without flex_bg, metadata_csum, uninit_bg (crc16 descriptor
// checksums, BLOCK_UNINIT groups), no checksums at all, meta_bg,
// sparse_super2, 64-bit descriptors or not, ext3 and ext2. Small groups
// (-g) give each volume many groups, so backups and uninitialised groups
// are there to be found.
var extCases = []extCase{
	{"ext4-4k", Ext4, 96 << 20, []string{"-t", "ext4", "-b", "4096", "-g", "2048"}},
	{"ext4-1k", Ext4, 64 << 20, []string{"-t", "ext4", "-b", "1024"}},
	{"ext4-no-flex_bg", Ext4, 96 << 20, []string{"-t", "ext4", "-b", "4096", "-g", "2048", "-O", "^flex_bg"}},
	{"ext4-uninit_bg", Ext4, 96 << 20, []string{"-t", "ext4", "-b", "4096", "-g", "2048", "-O", "^metadata_csum,uninit_bg"}},
	{"ext4-no-csum", Ext4, 64 << 20, []string{"-t", "ext4", "-b", "1024", "-O", "^metadata_csum,^uninit_bg,^64bit"}},
	{"ext4-meta_bg", Ext4, 96 << 20, []string{"-t", "ext4", "-b", "1024", "-g", "1024", "-O", "meta_bg,^resize_inode"}},
	{"ext4-sparse_super2", Ext4, 96 << 20, []string{"-t", "ext4", "-b", "4096", "-g", "2048", "-O", "sparse_super2"}},
	{"ext3", Ext3, 64 << 20, []string{"-t", "ext3", "-b", "1024"}},
	{"ext2", Ext2, 64 << 20, []string{"-t", "ext2", "-b", "4096", "-g", "4096"}},
}

// makeExt builds the ext volume of c from content with mke2fs -d, then
// deletes the victims with debugfs, leaving their blocks stale, and
// returns its image.
func makeExt(t testing.TB, c extCase, cont content) string {
	t.Helper()
	img := looptest.Sparse(t, t.TempDir(), c.size)
	src := t.TempDir()
	cont.write(t, src, true)
	run(t, "mke2fs", append(append([]string{"-q", "-F", "-E", "lazy_itable_init=0"}, c.args...), "-d", src, img)...)
	for v := range cont.victims {
		run(t, "debugfs", "-w", "-R", "rm /"+v, img)
	}
	return img
}

// extUsed returns the block size and the blocks in use as dumpe2fs -h
// reports them (block count minus free blocks).
func extUsed(t testing.TB, img string) (bs, used int64) {
	t.Helper()
	n := numbers(t, run(t, "dumpe2fs", "-h", img), `(?m)^Block size:\s+(\d+)`, `(?m)^Block count:\s+(\d+)`, `(?m)^Free blocks:\s+(\d+)`)
	return n[0], n[1] - n[2]
}

// TestExtOracle maps ext2/3/4 volumes of many layouts with deleted files,
// copies only the mapped ranges onto garbage, and shows that e2fsck -f
// finds the copy clean with every file equal (debugfs rdump), that exactly
// the blocks dumpe2fs counts used were mapped, and that no block of a
// deleted file was.
func TestExtOracle(t *testing.T) {
	testreq.Tools(t, "mke2fs", "debugfs", "dumpe2fs", "e2fsck")
	for _, c := range extCases {
		t.Run(c.name, func(t *testing.T) {
			cont := rpiContent(4)
			img := makeExt(t, c, cont)
			bs, used := extUsed(t, img)
			checkVolume(t, img, c.fs, used*bs, fmt.Sprintf("%d used blocks of %d, as dumpe2fs counts", used, bs),
				1000, func(vol string) { checkExt(t, vol, cont) })
		})
	}
}

// checkExt runs e2fsck -fn on the ext volume vol and compares its files,
// read with debugfs rdump, with content's.
func checkExt(t testing.TB, vol string, cont content) {
	t.Helper()
	if out, err := runErr(t, "e2fsck", "-fn", vol); err != nil {
		t.Errorf("e2fsck -fn on the copy: %v\n%s", err, out)
	}
	dir := t.TempDir()
	if out := run(t, "debugfs", "-R", "rdump / "+dir, vol); strings.Contains(out, "rror") {
		t.Errorf("debugfs rdump from the copy:\n%s", out)
	}
	cont.sameTree(t, dir)
}

// TestExtBlockUninitNeedsChecksums: without uninit_bg or metadata_csum a
// descriptor's BLOCK_UNINIT flag is not trusted (nothing checks it), so a
// group flagged so by accident still has its bitmap read and its files
// mapped.
func TestExtBlockUninitNeedsChecksums(t *testing.T) {
	testreq.Tools(t, "mke2fs", "debugfs", "dumpe2fs", "e2fsck")
	cont := content{keep: map[string]int{"big.bin": 24 << 20}}
	img := makeExt(t, extCase{size: 64 << 20, args: []string{"-t", "ext4", "-b", "1024", "-O", "^metadata_csum,^uninit_bg,^flex_bg"}}, cont)
	run(t, "debugfs", "-w", "-R", "set_bg 1 flags 2", img)
	if out := run(t, "debugfs", "-R", "stats", img); !strings.Contains(out, "Group  1: block bitmap at 8451, inode bitmap at 8452, inode table at 8453\n           0 free blocks, 2048 free inodes, 0 used directories\n           [Block not init]") {
		t.Fatalf("debugfs stats does not show group 1 full of the file and flagged BLOCK_UNINIT:\n%s", out)
	}
	m := readMap(t, img, Options{BlockSize: 512})
	p := partition(t, m, 0, Ext4)
	if bs, used := extUsed(t, img); p.Mapped != used*bs {
		t.Errorf("Mapped = %d, want %d (%d used blocks of %d, as dumpe2fs counts)", p.Mapped, used*bs, used, bs)
	}
}

// gd0BlockBitmap is where mke2fs puts group 0's block bitmap in
// TestExtNotUnderstood's volumes (dumpe2fs: "Block bitmap at 129").
const gd0BlockBitmap = 129

// TestExtNotUnderstood: a volume whose state, features or checksums say
// its bitmaps cannot be trusted is mapped whole, with the reason.
func TestExtNotUnderstood(t *testing.T) {
	testreq.Tools(t, "mke2fs", "debugfs")
	for _, tc := range []struct {
		name, debugfs string
		args          []string
		patch         int64 // a byte to invert
		reason        string
	}{
		{"needs recovery", "feature needs_recovery", nil, 0, "ext4: its journal needs recovery"},
		{"errors", "ssv state 3", nil, 0, "ext4: the superblock records errors"},
		{"not clean", "ssv state 0", nil, 0, "ext4: it was not cleanly unmounted"},
		{"bigalloc", "", []string{"-O", "bigalloc", "-C", "16384"}, 0, "ext4: bigalloc"},
		{"descriptor checksum", "set_bg 2 checksum 0", nil, 0, "ext4: group 2's descriptor fails its checksum"},
		{"crc16 descriptor checksum", "set_bg 2 checksum 0", []string{"-O", "^metadata_csum,uninit_bg"}, 0, "ext4: group 2's descriptor fails its checksum"},
		{"bitmap checksum", "", nil, 4096*gd0BlockBitmap + 100, "ext4: group 0's block bitmap fails its checksum"},
		{"superblock checksum", "", nil, 1024 + 0x3FC, "ext4: the superblock fails its checksum"},
		{"unknown feature", "ssv feature_incompat 0x80000000", nil, 0, "ext4: unknown features"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-t", "ext4", "-b", "4096", "-g", "2048"}, tc.args...)
			img := makeExt(t, extCase{size: 64 << 20, args: args}, content{keep: map[string]int{"a": 5000}})
			if tc.debugfs != "" {
				run(t, "debugfs", "-w", "-R", tc.debugfs, img)
			}
			if tc.patch != 0 {
				b := readFile(t, img)
				b[tc.patch] ^= 0xFF
				writeFile(t, img, b)
			}
			wantWhole(t, readMap(t, img, Options{}), 0, tc.reason)
		})
	}
}

// TestExtTooManyGroups: a superblock claiming more groups than any real
// filesystem (a hostile stick of a terabyte) is refused before Read
// allocates for them.
func TestExtTooManyGroups(t *testing.T) {
	d := &sparseDisk{size: 1 << 40, pages: map[int64][]byte{}}
	sb := make([]byte, 1024)
	le := binary.LittleEndian
	le.PutUint32(sb[0x4:], 1<<30)   // blocks of 1 KiB: the whole terabyte
	le.PutUint32(sb[0x14:], 1)      // first data block
	le.PutUint32(sb[0x20:], 256)    // blocks per group
	le.PutUint32(sb[0x24:], 256)    // clusters per group
	le.PutUint32(sb[0x28:], 8)      // inodes per group
	le.PutUint16(sb[0x38:], 0xEF53) // magic
	le.PutUint16(sb[0x3A:], 1)      // clean
	d.write(1024, sb)
	m, err := Read(d, d.size, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantWhole(t, m, 0, "ext2: the superblock claims 4194304 groups, more than any filesystem flashpipe reads")
}
