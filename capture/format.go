package capture

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flashpipe/flashpipe/diskimage"
)

// Format is how the output holds the image. The zero value is invalid.
type Format int

// The formats capture writes.
const (
	formatInvalid Format = iota
	// Raw: the image itself, as a sparse file (what is not mapped is a
	// hole).
	Raw
	// Zstd, Xz and Gzip: a compressed stream of the whole image, what is
	// not mapped as zeros.
	Zstd
	Xz
	Gzip
)

// String returns the format's name: "raw", "zstd", "xz" or "gzip".
func (f Format) String() string {
	switch f {
	case Raw:
		return "raw"
	case Zstd:
		return "zstd"
	case Xz:
		return "xz"
	case Gzip:
		return "gzip"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// compressions maps the extension of each compressed format capture writes
// to it.
var compressions = map[string]Format{".zst": Zstd, ".xz": Xz, ".gz": Gzip}

// unwritten are compressed or archive formats a station reads (or people
// expect) that capture does not write.
var unwritten = []string{".bz2", ".zip", ".7z", ".lz4", ".lzma", ".lzo", ".zstd", ".tar", ".tgz", ".txz", ".tzst"}

// FormatOf returns the format the output name asks for: NAME.img is raw,
// NAME.img.zst zstd, NAME.img.xz xz, NAME.img.gz gzip. In place of .img,
// any extension a station reads as a raw image goes (.iso, .raw, .bin,
// .dd, .wic ...; see diskimage.RawName), so that a station reads the
// capture as an image even when its first bytes carry no signature.
func FormatOf(name string) (Format, error) {
	base := filepath.Base(name)
	ext := strings.ToLower(filepath.Ext(base))
	f, compressed := compressions[ext]
	if !compressed {
		f = Raw
	}
	inner := base
	if compressed {
		inner = strings.TrimSuffix(base, filepath.Ext(base))
	}
	switch {
	case slices.Contains(unwritten, ext):
		return formatInvalid, fmt.Errorf("-o %s: capture does not write %s files; it writes NAME.img (raw, sparse), NAME.img.zst, NAME.img.xz or NAME.img.gz", name, ext)
	case !diskimage.RawName(inner):
		return formatInvalid, fmt.Errorf("-o %s: name the image NAME.img, NAME.img.zst, NAME.img.xz or NAME.img.gz "+
			"(.iso, .raw, .bin, .dd or .wic work in place of .img): a station reads an image by its first bytes, "+
			"and by its name when they carry no partition table or filesystem signature", name)
	}
	return f, nil
}
