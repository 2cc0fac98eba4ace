// Package bmap reads, checks and writes bmaptool's block maps: the XML
// ".bmap" files that list which blocks of a disk image hold data, so a
// writer copies those and leaves the rest of the device alone.
//
// Formats read: 1.0–1.2 (no checksums), 1.3 (SHA-1: BmapFileSHA1 and
// sha1="..." on each range), 1.4 and 2.0 (the same format, a mistake of
// bmap-tools 3.0 fixed in 3.1: ChecksumType, BmapFileChecksum and
// chksum="..."; sha1, sha256 and sha512 are accepted). A file whose major
// version is above 2 is refused. Format written: 2.0 with SHA-256, laid out
// as `bmaptool create` lays it out, so bmaptool reads what flashpipe writes.
//
// Parse checks the file's own checksum (computed over the file with the
// checksum's value replaced by ASCII zeros, as bmaptool does) and its
// consistency (block count against image size, ranges inside the image,
// ascending and not overlapping, the mapped-block count) before anything
// else may use it. The per-range checksums are checked against image data
// with VerifyRange, or by a writer that hashes as it streams (Map.NewHash,
// Map.CheckRange), range by range. Every error names the bmap file and,
// for a range, its number, its blocks and its bytes.
//
// Bytes of the image that no range covers are don't-care: a writer may
// leave the device's old data there. Inside a range every byte is written,
// zeros included.
//
// The package imports nothing of flashpipe but fsimage (for Region) and
// units; diskimage imports it, never the other way.
package bmap

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash"
	"os"
	"strconv"
	"strings"

	"github.com/flashpipe/flashpipe/fsimage"
)

// Map is a parsed, self-consistent block map.
type Map struct {
	// Name names the file in errors: its path, or "x.zip:x.bmap" for a
	// zip entry.
	Name string
	// Version is the format version as the file gives it, e.g. "2.0".
	Version string
	// ImageSize is the image's size in bytes; BlockSize the size of a
	// block; BlocksCount = ceil(ImageSize / BlockSize).
	ImageSize, BlockSize, BlocksCount int64
	// MappedBlocksCount is the number of blocks the ranges cover.
	MappedBlocksCount int64
	// ChecksumType is "sha1", "sha256" or "sha512"; "" for formats 1.0–1.2,
	// which have no checksums.
	ChecksumType string
	// FileChecksum is the file's own checksum, lower-case hex (checked by
	// Parse); "" when the format has none.
	FileChecksum string
	// Ranges are the mapped block ranges, ascending, not overlapping.
	Ranges []Range
}

// Range is one mapped run of blocks, First to Last inclusive.
type Range struct {
	First, Last int64
	// Checksum is the lower-case hex checksum of the range's bytes (up to
	// the image's end for the last block), "" when the file gives none.
	Checksum string
}

// Blocks returns the number of blocks in the range.
func (r Range) Blocks() int64 { return r.Last - r.First + 1 }

// Region returns the bytes of range i in the image: its blocks, cut at
// the image's end.
func (m *Map) Region(i int) fsimage.Region {
	r := m.Ranges[i]
	off := r.First * m.BlockSize
	end := min((r.Last+1)*m.BlockSize, m.ImageSize)
	return fsimage.Region{Offset: off, Length: end - off}
}

// Regions returns the bytes of every range, in order (Regions()[i] is
// Region(i)).
func (m *Map) Regions() []fsimage.Region {
	rs := make([]fsimage.Region, len(m.Ranges))
	for i := range m.Ranges {
		rs[i] = m.Region(i)
	}
	return rs
}

// MappedBytes returns the number of image bytes the ranges cover.
func (m *Map) MappedBytes() int64 {
	var n int64
	for i := range m.Ranges {
		n += m.Region(i).Length
	}
	return n
}

// describe names range i for an error: "range 3 (blocks 100-199, bytes
// 409600-819199)".
func (m *Map) describe(i int) string {
	r, reg := m.Ranges[i], m.Region(i)
	return fmt.Sprintf("range %d (blocks %d-%d, bytes %d-%d)", i+1, r.First, r.Last, reg.Offset, reg.Offset+reg.Length-1)
}

// checksums lists the checksum types flashpipe reads, with their hex
// lengths; bmaptool allows any of Python's hashlib, but only these occur.
var checksums = map[string]func() hash.Hash{
	"sha1":   sha1.New,
	"sha256": sha256.New,
	"sha512": sha512.New,
}

// hexLen returns the length of a checksum of type t in hex.
func hexLen(t string) int { return 2 * checksums[t]().Size() }

// ReadFile reads and parses the bmap at path (see Parse).
func ReadFile(path string) (*Map, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading block map: %w", err)
	}
	return Parse(path, data)
}

// xmlBmap is the XML document; numbers are kept as text to name them in
// errors.
type xmlBmap struct {
	XMLName           xml.Name `xml:"bmap"`
	Version           string   `xml:"version,attr"`
	ImageSize         string   `xml:"ImageSize"`
	BlockSize         string   `xml:"BlockSize"`
	BlocksCount       string   `xml:"BlocksCount"`
	MappedBlocksCount string   `xml:"MappedBlocksCount"`
	ChecksumType      *string  `xml:"ChecksumType"`
	BmapFileChecksum  *string  `xml:"BmapFileChecksum"`
	BmapFileSHA1      *string  `xml:"BmapFileSHA1"`
	Ranges            []struct {
		Chksum *string `xml:"chksum,attr"`
		SHA1   *string `xml:"sha1,attr"`
		Text   string  `xml:",chardata"`
	} `xml:"BlockMap>Range"`
}

// format says where a version keeps its checksums.
type format struct {
	major, minor int
	typeTag      bool   // ChecksumType names the type (1.4, 2.x)
	fileTag      string // element holding the file checksum; "" for none
	rangeAttr    string // attribute holding a range's checksum
}

// formatOf reads a version attribute.
func formatOf(name, v string) (format, error) {
	maj, min, ok := strings.Cut(strings.TrimSpace(v), ".")
	f := format{}
	var err1, err2 error
	f.major, err1 = strconv.Atoi(maj)
	f.minor, err2 = strconv.Atoi(min)
	switch {
	case !ok || err1 != nil || err2 != nil || f.major < 1 || f.minor < 0:
		return f, fmt.Errorf("block map %s: version %q is not a bmap format version; flashpipe reads 1.0 to 2.0", name, v)
	case f.major > 2:
		return f, fmt.Errorf("block map %s: format version %s is newer than flashpipe reads (1.0 to 2.0)", name, v)
	case f.major == 2 || f.minor >= 4:
		f.typeTag, f.fileTag, f.rangeAttr = true, "BmapFileChecksum", "chksum"
	case f.minor == 3:
		f.fileTag, f.rangeAttr = "BmapFileSHA1", "sha1"
	}
	return f, nil
}

// Parse parses a bmap file's bytes; name names it in errors. It checks the
// file checksum and the map's consistency (see the package doc).
func Parse(name string, data []byte) (*Map, error) {
	var x xmlBmap
	if err := xml.Unmarshal(data, &x); err != nil {
		return nil, fmt.Errorf("block map %s is not a bmap XML file: %w", name, err)
	}
	f, err := formatOf(name, x.Version)
	if err != nil {
		return nil, err
	}
	m := &Map{Name: name, Version: strings.TrimSpace(x.Version)}
	if err := m.checksumType(f, &x); err != nil {
		return nil, err
	}
	// The file's checksum first: an edited or damaged file says so rather
	// than whatever the damage broke.
	if f.fileTag != "" {
		if err := m.checkFile(f, &x, data); err != nil {
			return nil, err
		}
	}
	if err := m.sizes(&x); err != nil {
		return nil, err
	}
	if err := m.ranges(f, &x); err != nil {
		return nil, err
	}
	return m, nil
}

// sizes reads and cross-checks the image size, block size and counts.
func (m *Map) sizes(x *xmlBmap) error {
	fields := []struct {
		tag  string
		text string
		dst  *int64
	}{
		{"ImageSize", x.ImageSize, &m.ImageSize},
		{"BlockSize", x.BlockSize, &m.BlockSize},
		{"BlocksCount", x.BlocksCount, &m.BlocksCount},
		{"MappedBlocksCount", x.MappedBlocksCount, &m.MappedBlocksCount},
	}
	for _, f := range fields {
		v, err := strconv.ParseInt(strings.TrimSpace(f.text), 10, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("block map %s: <%s> is %q, want a whole number of %s", m.Name, f.tag, strings.TrimSpace(f.text), unitOf(f.tag))
		}
		*f.dst = v
	}
	if m.BlockSize == 0 || m.ImageSize == 0 {
		return fmt.Errorf("block map %s: image size %d and block size %d must both be above 0", m.Name, m.ImageSize, m.BlockSize)
	}
	if want := (m.ImageSize + m.BlockSize - 1) / m.BlockSize; m.BlocksCount != want {
		return fmt.Errorf("block map %s: <BlocksCount> is %d, but an image of %d bytes has %d blocks of %d bytes",
			m.Name, m.BlocksCount, m.ImageSize, want, m.BlockSize)
	}
	return nil
}

func unitOf(tag string) string {
	if strings.HasSuffix(tag, "Count") {
		return "blocks"
	}
	return "bytes"
}

// checksumType sets ChecksumType from the version and <ChecksumType>.
func (m *Map) checksumType(f format, x *xmlBmap) error {
	switch {
	case f.typeTag && x.ChecksumType == nil:
		return fmt.Errorf("block map %s: format version %s needs <ChecksumType>", m.Name, m.Version)
	case f.typeTag:
		m.ChecksumType = strings.ToLower(strings.TrimSpace(*x.ChecksumType))
		if _, ok := checksums[m.ChecksumType]; !ok {
			return fmt.Errorf("block map %s: checksum type %q is not one flashpipe reads: sha1, sha256 or sha512", m.Name, m.ChecksumType)
		}
	case f.fileTag != "":
		m.ChecksumType = "sha1"
	}
	return nil
}

// ranges reads the <Range> elements: "first-last" or "block", with the
// version's checksum attribute.
func (m *Map) ranges(f format, x *xmlBmap) error {
	var mapped, next int64
	for i, xr := range x.Ranges {
		text := strings.TrimSpace(xr.Text)
		r, err := parseRange(text)
		if err != nil {
			return fmt.Errorf("block map %s: range %d %q: %v", m.Name, i+1, text, err)
		}
		switch {
		case r.Last >= m.BlocksCount:
			return fmt.Errorf("block map %s: range %d %q ends past the image's %d blocks", m.Name, i+1, text, m.BlocksCount)
		case r.First < next:
			return fmt.Errorf("block map %s: range %d %q starts before the end of the previous range (block %d); ranges must ascend without overlapping", m.Name, i+1, text, next)
		}
		attr := xr.Chksum
		if f.rangeAttr == "sha1" {
			attr = xr.SHA1
		}
		if attr != nil && m.ChecksumType != "" {
			r.Checksum = strings.ToLower(strings.TrimSpace(*attr))
			if _, err := hex.DecodeString(r.Checksum); err != nil || len(r.Checksum) != hexLen(m.ChecksumType) {
				return fmt.Errorf("block map %s: range %d %q: %s=%q is not a %s checksum", m.Name, i+1, text, f.rangeAttr, *attr, m.ChecksumType)
			}
		}
		m.Ranges = append(m.Ranges, r)
		mapped += r.Blocks()
		next = r.Last + 1
	}
	if mapped != m.MappedBlocksCount {
		return fmt.Errorf("block map %s: <MappedBlocksCount> is %d, but its ranges cover %d blocks", m.Name, m.MappedBlocksCount, mapped)
	}
	return nil
}

// parseRange reads "first-last" or "block".
func parseRange(text string) (Range, error) {
	a, b, isRange := strings.Cut(text, "-")
	first, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	if err != nil || first < 0 {
		return Range{}, fmt.Errorf("want a block number or first-last")
	}
	last := first
	if isRange {
		last, err = strconv.ParseInt(strings.TrimSpace(b), 10, 64)
		if err != nil || last < 0 {
			return Range{}, fmt.Errorf("want a block number or first-last")
		}
	}
	if first > last {
		return Range{}, fmt.Errorf("its first block is after its last")
	}
	return Range{First: first, Last: last}, nil
}

// checkFile checks the file's own checksum: the hash of the file with the
// value's characters replaced by '0' must equal the value.
func (m *Map) checkFile(f format, x *xmlBmap, data []byte) error {
	val := x.BmapFileChecksum
	if f.fileTag == "BmapFileSHA1" {
		val = x.BmapFileSHA1
	}
	if val == nil {
		return fmt.Errorf("block map %s: format version %s needs <%s>", m.Name, m.Version, f.fileTag)
	}
	want := strings.TrimSpace(*val)
	start, err := valueOffset(data, f.fileTag, want)
	if err != nil || len(want) != hexLen(m.ChecksumType) {
		return fmt.Errorf("block map %s: <%s> %q is not a %s checksum", m.Name, f.fileTag, want, m.ChecksumType)
	}
	zeroed := bytes.Clone(data)
	copy(zeroed[start:], bytes.Repeat([]byte("0"), len(want)))
	h := checksums[m.ChecksumType]()
	h.Write(zeroed)
	got := hex.EncodeToString(h.Sum(nil))
	if !strings.EqualFold(got, want) {
		return fmt.Errorf("block map %s is damaged or was edited: its %s checksum is %s, the file says %s",
			m.Name, m.ChecksumType, got, want)
	}
	m.FileChecksum = strings.ToLower(want)
	return nil
}

// valueOffset returns where value starts inside the element tag in data.
func valueOffset(data []byte, tag, value string) (int, error) {
	open := bytes.Index(data, []byte("<"+tag+">"))
	if open < 0 {
		return 0, fmt.Errorf("no <%s>", tag)
	}
	body := open + len(tag) + 2
	i := bytes.Index(data[body:], []byte(value))
	end := bytes.Index(data[body:], []byte("</"+tag))
	if i < 0 || end < 0 || i > end || value == "" {
		return 0, fmt.Errorf("no value in <%s>", tag)
	}
	return body + i, nil
}
