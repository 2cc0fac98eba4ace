package capture

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/allocmap"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// staleMarker starts every 512 bytes of a deleted file: a capture must
// copy none of it.
const staleMarker = "FLASHPIPE-DELETED"

// tree is a volume's files: path → content.
type tree map[string][]byte

// testTree returns files of seeded random content in nested directories,
// a large one included; with deleted, the files to delete instead, each
// 512-byte block starting with staleMarker.
func testTree(seed uint64, deleted bool) tree {
	r := rand.New(rand.NewPCG(seed, 7))
	sizes := map[string]int{"big/firmware.bin": 3 << 20, "kernel.img": 700 << 10, "config.txt": 1200, "a/b/c/deep.dat": 40 << 10, "empty.txt": 0}
	if deleted {
		sizes = map[string]int{"old.img": 1 << 20, "a/gone.dat": 200 << 10}
	}
	t := tree{}
	for p, n := range sizes {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if deleted {
			for i := 0; i < n; i += 512 {
				copy(b[i:], staleMarker)
			}
		}
		t[p] = b
	}
	return t
}

// write puts the files under dir.
func (tr tree) write(t testing.TB, dir string) {
	t.Helper()
	for p, b := range tr {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// digest is the tree as imagetest.TreeDigest reads one back.
func (tr tree) digest() map[string]string {
	m := map[string]string{}
	for p, b := range tr {
		sum := sha1.Sum(b)
		m[p] = hex.EncodeToString(sum[:])
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			m[d] = "dir"
		}
	}
	return m
}

// disk is a two-partition disk image made with the Linux tools, as a
// master stick is: a FAT32 partition and an ext4 one, each with files
// written and then deleted (their data stays on the disk, unallocated).
type disk struct {
	img      string
	size     int64
	fat, ext tree // the files each partition holds
	parts    []imagetest.Partition
	sum      string // the image's SHA-256 when it was made
}

const (
	fatOff, fatLen = 1 << 20, 40 << 20
	extOff, extLen = fatOff + fatLen, 24 << 20
	diskLen        = extOff + extLen + 1<<20
)

// makeDisk partitions a disk image with sfdisk (table "dos" or "gpt"),
// makes its filesystems with mkfs.fat and mke2fs, fills them, and deletes
// some files with mdel and debugfs.
func makeDisk(t testing.TB, table string) *disk {
	t.Helper()
	testreq.Tools(t, "sfdisk", "mkfs.fat", "mcopy", "mdel", "mke2fs", "debugfs")
	dir := t.TempDir()
	d := &disk{img: filepath.Join(dir, "master.img"), size: diskLen, fat: testTree(1, false), ext: testTree(2, false)}
	if err := os.WriteFile(d.img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(d.img, diskLen); err != nil {
		t.Fatal(err)
	}
	imagetest.Run(t, "label: "+table+"\nstart=2048, size=81920, type="+map[string]string{"dos": "c", "gpt": "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"}[table]+
		"\nstart=83968, size=49152, type="+map[string]string{"dos": "83", "gpt": "0FC63DAF-8483-4772-8E79-3D69D8477DE4"}[table]+"\n",
		"sfdisk", "--no-reread", "--no-tell-kernel", "-q", d.img)
	fat := filepath.Join(dir, "fat.vol")
	imagetest.Run(t, "", "mkfs.fat", "-F", "32", "-s", "1", "-C", fat, fmtKB(fatLen))
	src, gone := filepath.Join(dir, "fatsrc"), filepath.Join(dir, "fatgone")
	d.fat.write(t, src)
	testTree(3, true).write(t, gone)
	for _, from := range []string{gone, src} {
		ents, _ := os.ReadDir(from)
		for _, e := range ents {
			imagetest.Run(t, "", "mcopy", "-s", "-o", "-i", fat, filepath.Join(from, e.Name()), "::/")
		}
	}
	imagetest.Run(t, "", "mdel", "-i", fat, "::/old.img", "::/a/gone.dat")
	ext := filepath.Join(dir, "ext.vol")
	extSrc := filepath.Join(dir, "extsrc")
	d.ext.write(t, extSrc)
	testTree(4, true).write(t, extSrc)
	imagetest.Run(t, "", "mke2fs", "-q", "-t", "ext4", "-b", "4096", "-d", extSrc, ext, fmtKB(extLen)+"k")
	imagetest.Run(t, "", "debugfs", "-w", "-R", "rm /old.img", ext)
	imagetest.Run(t, "", "debugfs", "-w", "-R", "rm /a/gone.dat", ext)
	imagetest.Place(t, d.img, fat, fatOff)
	imagetest.Place(t, d.img, ext, extOff)
	if st, err := os.Stat(d.img); err != nil || st.Size() != diskLen {
		t.Fatalf("%s is not %d bytes after its filesystems were copied in: %v", d.img, diskLen, err)
	}
	_, d.parts = imagetest.Partitions(t, d.img)
	if len(d.parts) != 2 || d.parts[0].Offset != fatOff || d.parts[1].Offset != extOff {
		t.Fatalf("sfdisk made partitions %+v, want them at %d and %d", d.parts, fatOff, extOff)
	}
	if deletedBlock(readAll(t, d.img)) < 0 {
		t.Fatalf("the deleted files left no data on %s: the test proves nothing", d.img)
	}
	d.sum = fileSum(t, d.img)
	return d
}

func fmtKB(n int64) string { return strconv.FormatInt(n>>10, 10) }

// firstNonZero returns the index of the first byte of b that is not
// zero, or -1.
func firstNonZero(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return -1
}

// deletedBlock returns the offset of the first 4 KiB block of img that
// holds only data of deleted files, or -1. (Blocks a FAT's 512-byte
// clusters share between a deleted file and a kept one are copied whole:
// the block map's unit is 4 KiB.)
func deletedBlock(img []byte) int64 {
	for off := 0; off+blockSize <= len(img); off += blockSize {
		all := true
		for s := off; s < off+blockSize && all; s += 512 {
			all = bytes.HasPrefix(img[s:], []byte(staleMarker))
		}
		if all {
			return int64(off)
		}
	}
	return -1
}

// fileSum returns the SHA-256 of the file p.
func fileSum(t testing.TB, p string) string {
	t.Helper()
	h := sha256.Sum256(readAll(t, p))
	return hex.EncodeToString(h[:])
}

// checkUnchanged fails t unless the file p still has the SHA-256 sum: a
// capture only reads its source.
func checkUnchanged(t testing.TB, p, sum string) {
	t.Helper()
	if got := fileSum(t, p); got != sum {
		t.Errorf("source %s has SHA-256 %s after the capture, %s before: it changed", p, got, sum)
	}
}

func readAll(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkDisk fails t unless both partitions of img fsck clean and hold
// exactly d's files.
func (d *disk) checkDisk(t testing.TB, img string) {
	t.Helper()
	for i, want := range []struct {
		fs    string
		files tree
	}{{"vfat", d.fat}, {"ext4", d.ext}} {
		p := d.parts[i]
		if diff := cmp.Diff(want.files.digest(), imagetest.VolumeTree(t, img, want.fs, p.Offset, p.Size)); diff != "" {
			t.Errorf("%s: files of partition %d (%s) differ (-want +got):\n%s", img, i+1, want.fs, diff)
		}
	}
}

// checkImage fails t unless the decompressed image got equals the source
// in every range the allocation map says must be copied, holds zeros
// everywhere else and nothing of a deleted file, and has SHA-256 sum.
func checkImage(t testing.TB, source string, got []byte, sum string) {
	t.Helper()
	src := readAll(t, source)
	am, err := allocmap.Read(bytes.NewReader(src), int64(len(src)), allocmap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(src) {
		t.Fatalf("image is %d bytes, want %d", len(got), len(src))
	}
	var next int64
	for _, r := range append(am.Ranges, fsimage.Region{Offset: int64(len(src))}) {
		if i := firstNonZero(got[next:r.Offset]); i >= 0 {
			t.Errorf("image byte %d (outside the mapped ranges) is not zero", next+int64(i))
		}
		if end := r.Offset + r.Length; !bytes.Equal(got[r.Offset:end], src[r.Offset:end]) {
			t.Errorf("image bytes %d-%d differ from the source's", r.Offset, end-1)
		}
		next = r.Offset + r.Length
	}
	if off := deletedBlock(got); off >= 0 {
		t.Errorf("the image holds a block of a deleted file at %d", off)
	}
	if h := sha256.Sum256(got); hex.EncodeToString(h[:]) != sum {
		t.Errorf("Write SHA-256 = %s, the image's is %x", sum, h)
	}
}
