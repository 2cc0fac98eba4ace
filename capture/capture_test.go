package capture

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/diskimage/bmap"
	"github.com/flashpipe/flashpipe/fsimage/allocmap"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// decompress returns the image the capture out holds, decompressed by the
// format's reference tool (zstd, xz, gzip).
func decompress(t testing.TB, out string) []byte {
	t.Helper()
	tool := map[string]string{".zst": "zstd", ".xz": "xz", ".gz": "gzip"}[filepath.Ext(out)]
	if tool == "" {
		return readAll(t, out)
	}
	b, err := exec.Command(testreq.Tool(t, tool), "-dc", out).Output()
	if err != nil {
		t.Fatalf("%s -dc %s: %v", tool, out, err)
	}
	return b
}

// capture opens source and writes the capture with opt.
func capture(t testing.TB, source string, opt Options) (*Capture, *Result, error) {
	t.Helper()
	c, err := Open(source, opt)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	res, err := c.Write(context.Background())
	return c, res, err
}

// TestCaptureFormats captures a two-partition disk (FAT32 and ext4, with
// deleted files, made by sfdisk, mkfs.fat and mke2fs) to every format,
// with and without a block map, and checks that: each partition is mapped
// by its allocation; the image, decompressed by the reference tool, equals
// the source in every mapped range and is zeros elsewhere, with nothing of
// a deleted file; a raw image takes no more disk than what is mapped; no
// .part file is left; and the block map matches the image, and `bmaptool
// copy` with it onto a stick full of old data gives filesystems that
// check clean with every file equal.
func TestCaptureFormats(t *testing.T) {
	testreq.Tools(t, "zstd", "xz", "gzip", "bmaptool")
	for _, table := range []string{"dos", "gpt"} {
		d := makeDisk(t, table)
		for _, name := range []string{"m.img", "m.img.zst", "m.img.xz", "m.img.gz"} {
			for _, withBmap := range []bool{false, true} {
				if table == "gpt" && name != "m.img.zst" {
					continue // formats do not depend on the table; xz is slow
				}
				t.Run(table+"/"+name+map[bool]string{true: "+bmap"}[withBmap], func(t *testing.T) {
					captureAndCheck(t, d, name, withBmap)
				})
			}
		}
	}
}

func captureAndCheck(t *testing.T, d *disk, name string, withBmap bool) {
	dir := t.TempDir()
	out := filepath.Join(dir, name)
	c, res, err := capture(t, d.img, Options{Output: out, Bmap: withBmap})
	if err != nil {
		t.Fatalf("capture %s -o %s = %v", d.img, name, err)
	}
	checkUnchanged(t, d.img, d.sum)
	if ps := c.Map.Partitions; len(ps) != 2 || ps[0].FS != allocmap.FAT32 || ps[1].FS != allocmap.Ext4 || ps[0].Whole || ps[1].Whole {
		t.Errorf("Map.Partitions = %+v, want FAT32 and ext4, both mapped by allocation", ps)
	}
	if c.Mapped >= d.size/2 || c.Mapped < 5<<20 {
		t.Errorf("Mapped = %d bytes of %d, want the files' (over 5 MiB) and little more", c.Mapped, d.size)
	}
	if parts, _ := filepath.Glob(filepath.Join(dir, "*.part")); len(parts) > 0 {
		t.Errorf("left behind: %v", parts)
	}
	got := decompress(t, out)
	checkImage(t, d.img, got, res.SHA256)
	if st, err := os.Stat(out); err == nil && filepath.Ext(out) == ".img" {
		if used := st.Sys().(*syscall.Stat_t).Blocks * 512; used > c.Mapped {
			t.Errorf("raw image takes %d bytes of disk, more than the %d mapped: it is not sparse", used, c.Mapped)
		}
	}
	bm := bmap.PathFor(out)
	if _, err := os.Stat(bm); !withBmap {
		if err == nil {
			t.Errorf("%s written without --bmap", bm)
		}
		return
	}
	m, err := bmap.ReadFile(bm)
	if err != nil {
		t.Fatalf("block map: %v", err)
	}
	if err := m.Verify(bytes.NewReader(got)); err != nil || m.MappedBytes() != c.Mapped || !m.HasChecksums() {
		t.Errorf("block map: Verify = %v, %d bytes mapped, checksums %v; want nil, %d, true", err, m.MappedBytes(), m.HasChecksums(), c.Mapped)
	}
	stick := imagetest.Garbage(t, d.size)
	imagetest.BmaptoolCopy(t, bm, out, stick)
	d.checkDisk(t, stick)
}

// TestCaptureFull: --full maps every byte, deleted files' data included,
// and the image equals the source.
func TestCaptureFull(t *testing.T) {
	d := makeDisk(t, "dos")
	out := filepath.Join(t.TempDir(), "full.img")
	c, _, err := capture(t, d.img, Options{Output: out, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	checkUnchanged(t, d.img, d.sum)
	if c.Map != nil || c.Mapped != d.size {
		t.Errorf("--full: Map %v, Mapped %d; want no map, %d", c.Map, c.Mapped, d.size)
	}
	if !bytes.Equal(readAll(t, out), readAll(t, d.img)) {
		t.Errorf("--full image differs from the source")
	}
}

// TestCaptureCorruptionDetected: bytes changed in the written image
// between the write and the read-back — inside a mapped range, outside
// every range, in a compressed stream — fail the capture, which removes
// the image and the block map and leaves an earlier output (replaced with
// --force) as it was.
func TestCaptureCorruptionDetected(t *testing.T) {
	testreq.Tools(t, "zstd")
	d := makeDisk(t, "dos")
	m, err := allocmap.Read(bytes.NewReader(readAll(t, d.img)), d.size, allocmap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mapped := m.Ranges[1].Offset + 100
	unmapped := m.Ranges[1].Offset + m.Ranges[1].Length + 100
	for _, tc := range []struct {
		name string
		at   func(size int64) int64
		want string
	}{
		{"m.img", func(int64) int64 { return mapped }, "differs from what was read"},
		{"m.img", func(int64) int64 { return unmapped }, "lie outside every mapped range but are not all zeros"},
		{"m.img.zst", func(size int64) int64 { return size / 2 }, "m.img.zst.part"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, tc.name)
			if err := os.WriteFile(out, []byte("the earlier capture"), 0o644); err != nil {
				t.Fatal(err)
			}
			beforeReadBack = func(part string) { flipByte(t, part, tc.at) }
			t.Cleanup(func() { beforeReadBack = nil })
			_, _, err := capture(t, d.img, Options{Output: out, Bmap: true, Force: true})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "not kept") {
				t.Fatalf("capture with a corrupted image = %v, want an error saying %q and that it is not kept", err, tc.want)
			}
			checkUnchanged(t, d.img, d.sum)
			if b, err := os.ReadFile(out); err != nil || string(b) != "the earlier capture" {
				t.Errorf("the earlier output = %q, %v; want it unchanged", b, err)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 1 {
				t.Errorf("files left after a failed capture: %v, want only the earlier output", left)
			}
		})
	}
}

// flipByte inverts the byte of path at the offset at gives for its size.
func flipByte(t testing.TB, path string, at func(size int64) int64) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	off := at(st.Size())
	b := []byte{0}
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xa5
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestCaptureRefusals: what capture will not read or write, and says why.
func TestCaptureRefusals(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.img")
	if err := os.WriteFile(src, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.img")
	os.WriteFile(empty, nil, 0o644)
	exists := filepath.Join(dir, "exists.img")
	os.WriteFile(exists, []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "stale.img.zst.bmap"), []byte("x"), 0o644)
	for _, tc := range []struct {
		source string
		opt    Options
		want   string
	}{
		{"/dev/null", Options{Output: filepath.Join(dir, "a.img")}, "is a character device: capture reads a block device"},
		{dir, Options{Output: filepath.Join(dir, "a.img")}, "is a directory"},
		{empty, Options{Output: filepath.Join(dir, "a.img")}, "is empty"},
		{src, Options{Output: exists}, "exists; --force replaces it"},
		{src, Options{Output: src, Force: true}, "is the source itself"},
		{src, Options{Output: filepath.Join(dir, "stale.img.zst"), Bmap: true}, "would take it for the image's block map before"},
		{src, Options{Output: filepath.Join(dir, "a.img.bz2")}, "capture does not write .bz2 files"},
		{src, Options{Output: filepath.Join(dir, "a.dat")}, "name the image NAME.img, NAME.img.zst"},
		{src, Options{Output: filepath.Join(dir, "a.zst")}, "name the image NAME.img, NAME.img.zst"},
	} {
		if _, err := Open(tc.source, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%s, -o %s) = %v, want an error saying %q", tc.source, tc.opt.Output, err, tc.want)
		}
	}
	// The source as OUT.part of its own output.
	part := filepath.Join(dir, "p.img.part")
	os.WriteFile(part, make([]byte, 4096), 0o644)
	if _, err := Open(part, Options{Output: filepath.Join(dir, "p.img"), Force: true}); err == nil || !strings.Contains(err.Error(), "is the source itself") {
		t.Errorf("Open(p.img.part, -o p.img) = %v, want it refused as the source itself", err)
	}
	fifo := filepath.Join(dir, "fifo.img")
	imagetest.FIFO(t, fifo)
	imagetest.Within(t, 5*time.Second, fifo, "Open(fifo)", func() {
		if _, err := Open(fifo, Options{Output: filepath.Join(dir, "f.img")}); err == nil || !strings.Contains(err.Error(), "is a fifo") {
			t.Errorf("Open(fifo) = %v, want it refused as a fifo", err)
		}
	})
	var ne *os.PathError
	if _, err := Open(filepath.Join(dir, "missing.img"), Options{Output: filepath.Join(dir, "b.img")}); !errors.As(err, &ne) {
		t.Errorf("Open(missing) = %v, want a path error", err)
	}
}
