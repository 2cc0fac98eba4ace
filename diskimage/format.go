package diskimage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"path"
	"slices"
	"strings"
)

// Format is how a source file holds its image. The zero value is invalid.
type Format int

const (
	formatInvalid Format = iota
	// Raw is the image itself: .img, .iso (hybrid ISOs included), .raw.
	Raw
	// Gzip is a gzip stream (one or more members).
	Gzip
	// Xz is an xz file (one or more streams).
	Xz
	// Zstd is a zstd stream (one or more frames).
	Zstd
	// Bzip2 is a bzip2 stream.
	Bzip2
	// Zip is a zip archive; one of its entries holds the image, itself raw
	// or compressed in one of the formats above.
	Zip
)

var formatNames = map[Format]string{Raw: "raw", Gzip: "gzip", Xz: "xz", Zstd: "zstd", Bzip2: "bzip2", Zip: "zip"}

// String returns the format's name: "raw", "gzip", "xz", "zstd", "bzip2",
// "zip".
func (f Format) String() string {
	if n, ok := formatNames[f]; ok {
		return n
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// supported lists the formats for error messages.
const supported = "raw disk images (.img, .iso), gzip, xz, zstd, bzip2, and zip archives holding one image"

// headSize is how much of a file Detect looks at, and how much of the image
// Source.Head holds: enough for an MBR, a GPT with 4096-byte sectors and
// its entries, and an ISO 9660 volume descriptor at 32 KiB.
const headSize = 64 << 10

// magic is a compressed format's leading bytes.
var magics = []struct {
	f     Format
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b}},
	{Xz, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{Zip, []byte("PK\x03\x04")},
	{Zip, []byte("PK\x05\x06")}, // an empty archive: Open says it holds no image
}

// others are formats people mistake for images, named in the error.
var others = []struct {
	off   int
	magic []byte
	what  string
}{
	{0, []byte("7z\xbc\xaf\x27\x1c"), "a 7z archive"},
	{0, []byte("Rar!\x1a\x07"), "a RAR archive"},
	{257, []byte("ustar"), "a tar archive"},
	{0, []byte{0x04, 0x22, 0x4d, 0x18}, "an lz4 stream"},
	{0, []byte("LZIP"), "an lzip stream"},
	{0, []byte{0x1f, 0x9d}, "a compress (.Z) stream"},
	{0, []byte("QFI\xfb"), "a qcow2 virtual disk (convert it with qemu-img convert -O raw)"},
	{0, []byte("KDMV"), "a VMDK virtual disk (convert it with qemu-img convert -O raw)"},
	{0, []byte("vhdxfile"), "a VHDX virtual disk (convert it with qemu-img convert -O raw)"},
	{0, []byte{0x3a, 0xff, 0x26, 0xed}, "an Android sparse image (convert it with simg2img)"},
}

// rawNames are extensions that make a file without a recognised signature
// raw: the name breaks the tie, it never overrides a signature.
var rawNames = []string{".img", ".iso", ".raw", ".bin", ".dd", ".wic", ".hddimg", ".sdcard", ".hdd"}

// RawName reports whether name's extension (.img, .iso, .raw, .bin, .dd,
// .wic, .hddimg, .sdcard, .hdd; any case) makes a file raw when its bytes
// carry no partition table, filesystem or compression signature. A file
// with a signature is read by it whatever its name.
func RawName(name string) bool {
	return slices.Contains(rawNames, strings.ToLower(path.Ext(name)))
}

// detect returns the format of a file that starts with head. name is used
// only to break a tie (a raw image without a partition table or filesystem
// signature) and in errors. A file flashpipe cannot read is an error that
// names it and says what it is when that is known.
func detect(name string, head []byte) (Format, error) {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.f, nil
		}
	}
	if bzip2Magic(head) {
		return Bzip2, nil
	}
	if isZstdSkippable(head) {
		return Zstd, nil
	}
	for _, o := range others {
		if len(head) >= o.off+len(o.magic) && bytes.Equal(head[o.off:o.off+len(o.magic)], o.magic) {
			return formatInvalid, fmt.Errorf("%s is %s; flashpipe reads %s", name, o.what, supported)
		}
	}
	if sig := rawSignature(head); sig != "" {
		return Raw, nil
	}
	if RawName(name) && len(head) > 0 {
		return Raw, nil
	}
	if len(head) == 0 {
		return formatInvalid, fmt.Errorf("%s is empty", name)
	}
	return formatInvalid, fmt.Errorf("%s is in an unknown format: it starts with no partition table, filesystem or compression signature (% x); flashpipe reads %s", name, head[:min(8, len(head))], supported)
}

func bzip2Magic(head []byte) bool {
	return len(head) >= 10 && head[0] == 'B' && head[1] == 'Z' && head[2] == 'h' && head[3] >= '1' && head[3] <= '9' &&
		bytes.Equal(head[4:10], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59})
}

// isZstdSkippable: a zstd file may start with a skippable frame
// (0x184D2A50-0x184D2A5F, little-endian) before its first data frame.
func isZstdSkippable(head []byte) bool {
	return len(head) >= 4 && binary.LittleEndian.Uint32(head)&0xfffffff0 == 0x184d2a50
}

// rawSignature names the disk or filesystem signature head carries, or ""
// when it has none: a partition table, a boot sector, ISO 9660, ext2/3/4.
func rawSignature(head []byte) string {
	at := func(off int, b []byte) bool {
		return len(head) >= off+len(b) && bytes.Equal(head[off:off+len(b)], b)
	}
	switch {
	case at(512, []byte("EFI PART")) || at(4096, []byte("EFI PART")):
		return "GPT"
	case at(0x8001, []byte("CD001")):
		return "ISO 9660"
	case at(1080, []byte{0x53, 0xef}):
		return "ext2/3/4"
	case at(510, []byte{0x55, 0xaa}):
		return "MBR or boot sector"
	}
	return ""
}
