package diskimage

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/diskimage/bmap"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/google/go-cmp/cmp"
)

// TestDetect: the format comes from the bytes; the name only makes a
// file without any signature raw; what flashpipe cannot read is named.
func TestDetect(t *testing.T) {
	img := testImage(64<<10, 3)
	noSig := bytes.Repeat([]byte{0x42}, 4096)
	tar := make([]byte, 1024)
	copy(tar[257:], "ustar")
	gz := compress(t, img, "gzip", "-c")
	tests := []struct {
		name string
		data []byte
		want Format
		err  string
	}{
		{"disk.img", img, Raw, ""},
		{"disk.img.gz", gz, Gzip, ""},
		{"misnamed.img", gz, Gzip, ""}, // bytes win over the name
		{"misnamed.iso.xz", img, Raw, ""},
		{"blank.img", noSig, Raw, ""}, // no signature: the name breaks the tie
		{"blank.dat", noSig, 0, "is in an unknown format: it starts with no partition table, filesystem or compression signature (42 42"},
		{"disk.tar", tar, 0, "is a tar archive; flashpipe reads raw disk images"},
		{"disk.7z", []byte("7z\xbc\xaf\x27\x1c\x00\x04"), 0, "is a 7z archive"},
		{"disk.qcow2", []byte("QFI\xfb\x00\x00\x00\x03"), 0, "is a qcow2 virtual disk (convert it with qemu-img convert -O raw)"},
		{"empty.img", nil, 0, "is empty"},
	}
	for _, tt := range tests {
		path := writeFile(t, filepath.Join(t.TempDir(), tt.name), tt.data)
		src, err := Open(path, Options{})
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("Open(%s) = %v, want format %v", tt.name, err, tt.want)
		case tt.err == "" && src.Format != tt.want:
			t.Errorf("Open(%s) format = %v, want %v", tt.name, src.Format, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), path)):
			t.Errorf("Open(%s) = %v, want an error naming %s and saying %q", tt.name, err, path, tt.err)
		}
	}
}

// TestDetectUnderAnotherName: Options.Name, not the path, breaks the tie
// for an image without a signature, raw or compressed (a file read back
// under its temporary name).
func TestDetectUnderAnotherName(t *testing.T) {
	noSig := bytes.Repeat([]byte{0x42}, 4096)
	dir := t.TempDir()
	raw := writeFile(t, filepath.Join(dir, "blank.img.part"), noSig)
	zst := writeFile(t, filepath.Join(dir, "blank.img.zst.part"), compress(t, noSig, "zstd", "-c", "-q"))
	for path, name := range map[string]string{raw: "blank.img", zst: "blank.img.zst"} {
		if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "unknown format") {
			t.Errorf("Open(%s) = %v, want an unknown format", path, err)
		}
		if src, err := Open(path, Options{Name: name}); err != nil || src.Path != path {
			t.Errorf("Open(%s, Name %s) = %v, want it read as an image at its path", path, name, err)
		}
	}
	for name, want := range map[string]bool{"a.img": true, "A.ISO": true, "a.wic": true, "a.img.zst": false, "a": false, "a.part": false} {
		if got := RawName(name); got != want {
			t.Errorf("RawName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestDetectInside: what a compressed file holds must be a raw image.
func TestDetectInside(t *testing.T) {
	tar := make([]byte, 4096)
	copy(tar[257:], "ustar")
	img := testImage(64<<10, 3)
	tests := []struct {
		name string
		data []byte
		err  string
	}{
		{"x.tar.xz", compress(t, tar, "xz", "-c"), "image %s (xz) decompressed: "},
		{"x.img.gz.xz", compress(t, compress(t, img, "gzip", "-c"), "xz", "-c"), "image %s (xz) holds gzip data inside; decompress it once"},
		{"x.zip", makeZip(t, zipEntry{"x.tar.gz", compress(t, tar, "gzip", "-c"), zip.Store}), "zip entry x.tar.gz of %s (gzip) decompressed: "},
	}
	for _, tt := range tests {
		path := writeFile(t, filepath.Join(t.TempDir(), tt.name), tt.data)
		_, err := Open(path, Options{})
		want := strings.ReplaceAll(tt.err, "%s", path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) = %v, want an error containing %q", tt.name, err, want)
		}
	}
}

func TestZipEntries(t *testing.T) {
	img := testImage(64<<10, 4)
	other := testImage(64<<10, 5)
	side := []zipEntry{{"README.md", []byte("#"), zip.Deflate}, {"SHA256SUMS", []byte("x"), zip.Store}, {"disk.img.bmap", []byte("<bmap/>"), zip.Store}}
	tests := []struct {
		name    string
		entries []zipEntry
		entry   string
		want    string // the entry picked
		err     string
	}{
		{"one image among sidecars", append(side, zipEntry{"sub/disk.img", img, zip.Deflate}), "", "sub/disk.img", ""},
		{"none", side, "", "", `holds no disk image; it holds "README.md", "SHA256SUMS", "disk.img.bmap"`},
		{"empty", nil, "", "", "holds no disk image; it holds no entries"},
		{"several", []zipEntry{{"a.img", img, zip.Store}, {"b.iso", other, zip.Store}}, "", "",
			`holds 2 images: "a.img" (65.5 kB), "b.iso" (65.5 kB); name the one to write (entry = "...")`},
		{"several, named", []zipEntry{{"a.img", img, zip.Store}, {"b.iso", other, zip.Store}}, "b.iso", "b.iso", ""},
		{"named, missing", []zipEntry{{"a.img", img, zip.Store}}, "c.img", "", `has no entry "c.img"; it holds "a.img"`},
	}
	for _, tt := range tests {
		path := writeFile(t, filepath.Join(t.TempDir(), "x.zip"), makeZip(t, tt.entries...))
		src, err := Open(path, Options{Entry: tt.entry})
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), path)):
			t.Errorf("%s: Open = %v, want an error naming %s and saying %q", tt.name, err, path, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("%s: Open = %v, want entry %s", tt.name, err, tt.want)
		case tt.err == "" && src.Entry != tt.want:
			t.Errorf("%s: Open entry = %q, want %q", tt.name, src.Entry, tt.want)
		}
	}
	// The named entry's bytes are what the cache holds.
	path := writeFile(t, filepath.Join(t.TempDir(), "x.zip"), makeZip(t, zipEntry{"a.img", img, zip.Store}, zipEntry{"b.iso", other, zip.Deflate}))
	src, err := Open(path, Options{Entry: "b.iso"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := getAll(t, openCache(t), src); err != nil || !bytes.Equal(got, other) {
		t.Errorf("entry b.iso decoded = equal %v, %v; want b.iso's bytes", bytes.Equal(got, other), err)
	}
	// An entry is only for a zip.
	raw := writeFile(t, filepath.Join(t.TempDir(), "x.img"), img)
	if _, err := Open(raw, Options{Entry: "a.img"}); err == nil || !strings.Contains(err.Error(), "not a zip archive") {
		t.Errorf("Open(raw, entry) = %v, want an error saying it is not a zip", err)
	}
}

// bmapFor builds and marshals a block map of img whose data is data.
func bmapFor(t *testing.T, img []byte, data []fsimage.Region) []byte {
	t.Helper()
	m, err := bmap.Build(context.Background(), "x.bmap", bytes.NewReader(img), int64(len(img)), data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBmapAuto finds block maps by bmaptool's names, next to the file and
// inside a zip; none found maps the whole image.
func TestBmapAuto(t *testing.T) {
	img := testImage(256<<10, 6)
	data := []fsimage.Region{{Offset: 0, Length: 8192}, {Offset: 100 << 10, Length: 5000}}
	bm := bmapFor(t, img, data)

	dir := t.TempDir()
	path := writeFile(t, filepath.Join(dir, "disk.img.xz"), compress(t, img, "xz", "-c"))
	src, err := Open(path, Options{Bmap: BmapAuto})
	if err != nil || src.Bmap != nil || len(src.BmapTried) != 3 {
		t.Fatalf("Open(auto, no map) = %+v, %v; want no map, 3 names tried", src, err)
	}
	if diff := cmp.Diff([]string{path + ".bmap", filepath.Join(dir, "disk.img.bmap"), filepath.Join(dir, "disk.bmap")}, src.BmapTried); diff != "" {
		t.Errorf("BmapTried (-want +got):\n%s", diff)
	}
	writeFile(t, filepath.Join(dir, "disk.img.bmap"), bm)
	if src, err = Open(path, Options{Bmap: BmapAuto}); err != nil || src.Bmap == nil || src.BmapName != filepath.Join(dir, "disk.img.bmap") {
		t.Fatalf("Open(auto) = %+v, %v; want the map disk.img.bmap", src, err)
	}
	if got := src.Bmap.MappedBytes(); got != 8192+8192 {
		t.Errorf("MappedBytes = %d, want %d", got, 8192+8192)
	}

	// Inside a zip, next to the entry; the one next to the zip comes second.
	zpath := writeFile(t, filepath.Join(dir, "disk.zip"), makeZip(t, zipEntry{"d/disk.img", img, zip.Deflate}, zipEntry{"d/disk.bmap", bm, zip.Deflate}))
	if src, err = Open(zpath, Options{Bmap: BmapAuto}); err != nil || src.Bmap == nil || src.BmapName != zpath+":d/disk.bmap" {
		t.Fatalf("Open(zip, auto) = %+v, %v; want the map d/disk.bmap inside the zip", src, err)
	}
	// A map for another image is refused at Open: the sizes differ.
	small := writeFile(t, filepath.Join(dir, "small.img"), img[:128<<10])
	if _, err := Open(small, Options{Bmap: filepath.Join(dir, "disk.img.bmap")}); err == nil ||
		!strings.Contains(err.Error(), "the map belongs to another image") {
		t.Errorf("Open(small image, its map) = %v, want the sizes refused", err)
	}
}

// TestBmapChecked: an Image with a block map gives no byte of a range
// before the range matched its checksum; a map whose checksum does not
// match fails WaitFor and ReadAt, naming the map and the range, even for
// bytes below that range: the image is not the map's.
func TestBmapChecked(t *testing.T) {
	img := testImage(256<<10, 7)
	data := []fsimage.Region{{Offset: 0, Length: 8192}, {Offset: 100 << 10, Length: 5000}}
	dir := t.TempDir()
	bmPath := writeFile(t, filepath.Join(dir, "disk.bmap"), bmapFor(t, img, data))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	good := writeFile(t, filepath.Join(dir, "disk.img.gz"), compress(t, img, "gzip", "-c"))
	src, err := Open(good, Options{Bmap: bmPath})
	if err != nil {
		t.Fatal(err)
	}
	if src.Size != int64(len(img)) || src.SizeFrom != "block map" {
		t.Errorf("gzip with a map: Size %d from %q, want %d from the block map", src.Size, src.SizeFrom, len(img))
	}
	c := openCache(t)
	im, err := c.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	if err := im.WaitFor(ctx, int64(len(img))); err != nil {
		t.Fatalf("WaitFor = %v", err)
	}
	if regs, _ := im.Mapped(ctx); !cmp.Equal(regs, src.Bmap.Regions()) {
		t.Errorf("Mapped = %v, want the map's regions %v", regs, src.Bmap.Regions())
	}

	// The same map against another image: range 2 differs.
	bad := bytes.Clone(img)
	bad[100<<10+10] ^= 1
	badPath := writeFile(t, filepath.Join(dir, "other.img.gz"), compress(t, bad, "gzip", "-c"))
	src2, err := Open(badPath, Options{Bmap: bmPath})
	if err != nil {
		t.Fatal(err)
	}
	im2, err := c.Get(src2)
	if err != nil {
		t.Fatal(err)
	}
	defer im2.Close()
	err = im2.WaitFor(ctx, 100<<10+1)
	var ce *bmap.ChecksumError
	if !errors.As(err, &ce) || ce.Map != bmPath || !strings.HasPrefix(ce.Range, "range 2 (blocks 25-26") {
		t.Errorf("WaitFor(range 2) = %v, want a checksum error for range 2 of %s", err, bmPath)
	}
	// Once a range failed, every read fails: the image is not the map's.
	if _, err := im2.ReadAt(make([]byte, 10), 0); !errors.As(err, &ce) {
		t.Errorf("ReadAt(range 1) = %v, want the checksum error of range 2", err)
	}
}

// TestWindowLimit: an xz or zstd file that needs more than MaxWindow of
// decoder memory is refused at Open, saying how much it asks for.
func TestWindowLimit(t *testing.T) {
	img := testImage(64<<10, 8)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"big.img.xz", compress(t, img, "xz", "-c", "-T1", "--lzma2=preset=0,dict=128MiB"), "it needs a 128 MiB dictionary; flashpipe decodes up to 64 MiB"},
		{"big.img.zst", compress(t, img, "zstd", "-c", "-q", "--long=28"), "needs a zstd window above 64 MiB, the most flashpipe decodes"},
		{"ok.img.xz", compress(t, img, "xz", "-c", "-T1", "--lzma2=preset=0,dict=64MiB"), ""},
	}
	for _, tt := range tests {
		path := writeFile(t, filepath.Join(t.TempDir(), tt.name), tt.data)
		_, err := Open(path, Options{})
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path)) {
			t.Errorf("Open(%s) = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestOpenRefusesFIFO: an image path that is a FIFO is refused at once,
// never opened for reading (which would wait for a writer forever).
func TestOpenRefusesFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "image.img")
	imagetest.FIFO(t, p)
	imagetest.Within(t, 5*time.Second, p, "Open of a FIFO", func() {
		if _, err := Open(p, Options{}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Open(FIFO) = %v, want a not-a-regular-file error", err)
		}
	})
}
