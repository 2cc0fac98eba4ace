package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A 10-block image of 1 KiB blocks whose last block is half there, with
// blocks 1-2 and 9 mapped.
const testBmap = `<?xml version="1.0" ?>
<bmap version="2.0">
    <ImageSize> 9728 </ImageSize>
    <BlockSize> 1024 </BlockSize>
    <BlocksCount> 10 </BlocksCount>
    <MappedBlocksCount> 3 </MappedBlocksCount>
    <ChecksumType> sha256 </ChecksumType>
    <BmapFileChecksum> 0 </BmapFileChecksum>
    <BlockMap>
        <Range chksum="0"> 1-2 </Range>
        <Range chksum="0"> 9 </Range>
    </BlockMap>
</bmap>
`

func writeBmapCase(t *testing.T, disk func(img []byte) []byte) (bmapPath, imgPath, diskPath string) {
	t.Helper()
	dir := t.TempDir()
	img := make([]byte, 9728)
	for i := range img {
		img[i] = byte(i*7 + 1)
	}
	bmapPath, imgPath, diskPath = filepath.Join(dir, "x.bmap"), filepath.Join(dir, "x.img"), filepath.Join(dir, "disk")
	for p, b := range map[string][]byte{bmapPath: []byte(testBmap), imgPath: img, diskPath: disk(bytes.Clone(img))} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return bmapPath, imgPath, diskPath
}

func TestBmapcmp(t *testing.T) {
	tests := []struct {
		name string
		disk func(img []byte) []byte
		out  string
		code int
		err  string
	}{
		{"equal, disk larger", func(img []byte) []byte { return append(img, make([]byte, 4096)...) }, "2560 9728 0\n", 0, ""},
		{"stale bytes outside the map only", func(img []byte) []byte {
			img[0], img[3072], img[8191] = ^img[0], ^img[3072], ^img[8191]
			return img
		}, "2560 9728 3\n", 0, ""},
		{"a stale byte inside the map", func(img []byte) []byte {
			img[0], img[2050], img[2051] = ^img[0], ^img[2050], ^img[2051]
			return img
		}, "", 1, "in 2 bytes of the mapped range 1024-3071, first at byte 2050"},
		{"stale byte in the last, partial block", func(img []byte) []byte { img[9727] = ^img[9727]; return img }, "", 1, "mapped range 9216-9727"},
		{"disk shorter than the image", func(img []byte) []byte { return img[:5000] }, "", 1, "reading the disk"},
	}
	for _, tt := range tests {
		b, i, d := writeBmapCase(t, tt.disk)
		var out, errb bytes.Buffer
		code := run([]string{"bmapcmp", b, i, d}, &out, &errb)
		if code != tt.code || out.String() != tt.out || !strings.Contains(errb.String(), tt.err) {
			t.Errorf("%s: bmapcmp = %d, %q, stderr %q; want %d, %q, stderr with %q", tt.name, code, out.String(), errb.String(), tt.code, tt.out, tt.err)
		}
	}
}
