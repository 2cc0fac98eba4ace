package diskimage

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/fsimage"
)

// format is one way to ship the test image.
type format struct {
	name     string
	file     string // file name
	want     Format
	entry    Format // zip: the entry's format
	sizeFrom string // where Open finds the size; "" when it does not
	make     func(t *testing.T, img []byte) []byte
}

func formats() []format {
	return []format{
		{"raw", "disk.img", Raw, 0, "file", func(t *testing.T, img []byte) []byte { return img }},
		{"gzip", "disk.img.gz", Gzip, 0, "", func(t *testing.T, img []byte) []byte { return compress(t, img, "gzip", "-c") }},
		{"xz one block", "disk.img.xz", Xz, 0, "xz index", func(t *testing.T, img []byte) []byte { return compress(t, img, "xz", "-c", "-T1") }},
		{"xz many blocks", "disk.img.xz", Xz, 0, "xz index", func(t *testing.T, img []byte) []byte {
			return compress(t, img, "xz", "-c", "-T2", "--block-size=200000")
		}},
		{"xz two streams and padding", "disk.img.xz", Xz, 0, "xz index", func(t *testing.T, img []byte) []byte {
			return concat(compress(t, img[:300000], "xz", "-c", "-T1"), make([]byte, 8), compress(t, img[300000:], "xz", "-c", "-T2", "--block-size=300000"))
		}},
		{"zstd", "disk.img.zst", Zstd, 0, "", func(t *testing.T, img []byte) []byte { return compress(t, img, "zstd", "-c", "-q") }},
		{"zstd two frames", "disk.img.zst", Zstd, 0, "", func(t *testing.T, img []byte) []byte {
			return concat(compress(t, img[:300000], "zstd", "-c", "-q"), compress(t, img[300000:], "zstd", "-c", "-q", "-19"))
		}},
		{"gzip two members", "disk.img.gz", Gzip, 0, "", func(t *testing.T, img []byte) []byte {
			return concat(compress(t, img[:300000], "gzip", "-c"), compress(t, img[300000:], "gzip", "-c", "-1"))
		}},
		{"bzip2", "disk.img.bz2", Bzip2, 0, "", func(t *testing.T, img []byte) []byte { return compress(t, img, "bzip2", "-c") }},
		{"zip stored", "disk.zip", Zip, Raw, "zip directory", func(t *testing.T, img []byte) []byte {
			return makeZip(t, zipEntry{"README.txt", []byte("hi"), zip.Store}, zipEntry{"disk.img", img, zip.Store})
		}},
		{"zip deflate", "disk.zip", Zip, Raw, "zip directory", func(t *testing.T, img []byte) []byte {
			return makeZip(t, zipEntry{"disk.img", img, zip.Deflate}, zipEntry{"disk.img.sha256", []byte("x"), zip.Deflate})
		}},
		{"zip of xz", "disk.zip", Zip, Xz, "", func(t *testing.T, img []byte) []byte {
			return makeZip(t, zipEntry{"disk.img.xz", compress(t, img, "xz", "-c", "-T2", "--block-size=200000"), zip.Store})
		}},
		{"zip deflate of xz", "disk.zip", Zip, Xz, "", func(t *testing.T, img []byte) []byte {
			return makeZip(t, zipEntry{"disk.img.xz", compress(t, img, "xz", "-c", "-T1"), zip.Deflate})
		}},
		{"zip deflate of gzip", "disk.zip", Zip, Gzip, "", func(t *testing.T, img []byte) []byte {
			return makeZip(t, zipEntry{"disk.img.gz", compress(t, img, "gzip", "-c"), zip.Deflate})
		}},
	}
}

// TestFormatsValid: every format decodes to the image, byte for byte, with
// its SHA-256; the cache holds its zero blocks as holes.
func TestFormatsValid(t *testing.T) {
	img := testImage(1<<20, 1)
	for _, f := range formats() {
		t.Run(f.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), f.file), made(t, f, img))
			src, err := Open(path, Options{})
			if err != nil {
				t.Fatalf("Open = %v", err)
			}
			if src.Format != f.want || (f.want == Zip && src.EntryFormat != f.entry) {
				t.Errorf("Open format = %v/%v, want %v/%v", src.Format, src.EntryFormat, f.want, f.entry)
			}
			if wantSize := int64(len(img)); f.sizeFrom != "" && (src.Size != wantSize || src.SizeFrom != f.sizeFrom) {
				t.Errorf("Open size = %d from %q, want %d from %q", src.Size, src.SizeFrom, wantSize, f.sizeFrom)
			} else if f.sizeFrom == "" && src.Size != -1 {
				t.Errorf("Open size = %d from %q, want -1 (unknown before decoding)", src.Size, src.SizeFrom)
			}
			if string(src.Head) != string(img[:headSize]) {
				t.Errorf("Open head differs from the image's first %d bytes", headSize)
			}
			c := openCache(t)
			got, m, err := getAll(t, c, src)
			if err != nil {
				t.Fatalf("decoding = %v", err)
			}
			if string(got) != string(img) || m.SHA256 != sha(img) || m.Size != int64(len(img)) {
				t.Errorf("decoded image: equal %v, sha %s size %d; want equal, sha %s size %d", string(got) == string(img), m.SHA256, m.Size, sha(img), len(img))
			}
			checkHoles(t, c, src, img)
		})
	}
}

// checkHoles: every whole aligned 4 KiB block of zeros is a hole in the
// cache, every other block data.
func checkHoles(t *testing.T, c *Cache, src *Source, img []byte) {
	t.Helper()
	im, err := c.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	ctx := ctxMinute(t)
	if size, err := im.WaitSize(ctx); err != nil || size != int64(len(img)) {
		t.Errorf("WaitSize = %d, %v; want %d", size, err, len(img))
	}
	if regs, err := im.Mapped(ctx); err != nil || len(regs) != 1 || regs[0] != (fsimage.Region{Offset: 0, Length: int64(len(img))}) {
		t.Errorf("Mapped without a block map = %v, %v; want the whole image", regs, err)
	}
	spans, err := im.Spans(0, int64(len(img)))
	if err != nil {
		t.Fatalf("Spans = %v", err)
	}
	var holes, want int
	var next int64
	for _, s := range spans {
		if s.Offset != next {
			t.Fatalf("Spans = %v: not contiguous at %d", spans, next)
		}
		next = s.Offset + s.Length
		for off := s.Offset; off < next; off += holeBlock {
			zero := string(img[off:off+holeBlock]) == string(zeroBlock[:])
			if zero == s.Data {
				t.Fatalf("block at %d: zero %v but span %+v", off, zero, s)
			}
			if !s.Data {
				holes++
			}
		}
	}
	for off := 0; off < len(img); off += holeBlock {
		if string(img[off:off+holeBlock]) == string(zeroBlock[:]) {
			want++
		}
	}
	if next != int64(len(img)) || holes != want || want == 0 {
		t.Errorf("Spans cover %d bytes with %d hole blocks; want %d bytes, %d hole blocks", next, holes, len(img), want)
	}
}

// TestFormatsDamaged: a corrupt or truncated file of every compressed
// format fails with an error naming the file and where, and leaves nothing
// in the cache; the source file is not changed.
func TestFormatsDamaged(t *testing.T) {
	img := testImage(1<<20, 1)
	for _, f := range formats() {
		if f.want == Raw {
			continue // a raw image has nothing to check: any bytes are an image
		}
		for _, damage := range []string{"corrupt", "truncated"} {
			t.Run(f.name+" "+damage, func(t *testing.T) {
				data := damaged(made(t, f, img), damage)
				path := writeFile(t, filepath.Join(t.TempDir(), f.file), data)
				c := openCache(t)
				err := openAndDecode(t, c, path)
				if err == nil {
					t.Fatalf("decoding a %s %s file succeeded", damage, f.name)
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the file %s", err, path)
				}
				var de *DecodeError
				if errors.As(err, &de) && (de.FileSize != int64(len(data)) || de.FileOffset > de.FileSize) {
					t.Errorf("DecodeError %+v: file offset %d of %d bytes, want at most the file's %d", de, de.FileOffset, de.FileSize, len(data))
				}
				if !errors.As(err, &de) && !strings.Contains(err.Error(), "byte") && !strings.Contains(err.Error(), "at the end of the file") {
					t.Errorf("error %q says nothing of where", err)
				}
				if files := cacheFiles(t, c); len(files) != 0 {
					t.Errorf("cache holds %v after a failed decompression, want nothing", files)
				}
			})
		}
	}
}

// damaged returns a copy of data with damage done: "corrupt" flips 64
// bytes in its middle, "truncated" cuts it to 60 %.
func damaged(data []byte, damage string) []byte {
	data = bytes.Clone(data)
	if damage == "truncated" {
		return data[:len(data)*6/10]
	}
	for i := len(data) / 2; i < len(data)/2+64; i++ {
		data[i] ^= 0x5a
	}
	return data
}

// openAndDecode opens path and decodes it into c, returning the first
// error.
func openAndDecode(t *testing.T, c *Cache, path string) error {
	src, err := Open(path, Options{})
	if err != nil {
		return err
	}
	_, _, err = getAll(t, c, src)
	return err
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// madeFiles keeps each format's file of the 1 MiB test image, made once
// for the valid and the damaged tests.
var madeFiles = map[string][]byte{}

func made(t *testing.T, f format, img []byte) []byte {
	t.Helper()
	if b, ok := madeFiles[f.name]; ok {
		return b
	}
	b := f.make(t, img)
	madeFiles[f.name] = b
	return b
}

// TestXzCheckValue: an xz block whose data decodes but whose check value
// (CRC64 here) is wrong fails, naming the block.
func TestXzCheckValue(t *testing.T) {
	img := testImage(1<<20, 1)
	data := compress(t, img, "xz", "-c", "-T2", "--block-size=300000")
	blocks, _, err := xzLayout(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(blocks) < 2 {
		t.Fatalf("xzLayout = %d blocks, %v", len(blocks), err)
	}
	// A block is header, data, zero padding to a multiple of 4, check
	// (CRC64: 8 bytes, so the check ends the padded block).
	b := blocks[1]
	end := b.fileOff + (b.unpadded+3)&^3
	check := bytes.Clone(data)
	check[end-8] ^= 1
	path := writeFile(t, filepath.Join(t.TempDir(), "disk.img.xz"), check)
	err = openAndDecode(t, openCache(t), path)
	if err == nil || !strings.Contains(err.Error(), "block 2 ") || !strings.Contains(err.Error(), "check value") {
		t.Errorf("decoding with a wrong check value = %v, want an error naming block 2's check value", err)
	}
	// Padding must be zeros (xz-file-format 3.3): take a block that has some.
	for i, b := range blocks {
		if b.unpadded%4 == 0 {
			continue
		}
		padding := bytes.Clone(data)
		padding[b.fileOff+(b.unpadded+3)&^3-8-1] = 1
		path := writeFile(t, filepath.Join(t.TempDir(), "disk.img.xz"), padding)
		if err := openAndDecode(t, openCache(t), path); err == nil || !strings.Contains(err.Error(), "padding is not zeros") ||
			!strings.Contains(err.Error(), fmt.Sprintf("block %d ", i+1)) {
			t.Errorf("decoding with non-zero padding in block %d = %v, want an error saying so", i+1, err)
		}
		return
	}
	t.Fatalf("no block of the test file has padding")
}
