package bmap

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/units"
)

// DefaultBlockSize is the block size Build uses: 4 KiB, what `bmaptool
// create` takes from an image on ext4 or tmpfs.
const DefaultBlockSize = 4096

// Build makes a version 2.0 map with SHA-256 checksums for an image of
// size bytes whose data lies in mapped (see New). Each range's checksum is
// read from img. ctx stops a long read between ranges.
func Build(ctx context.Context, name string, img io.ReaderAt, size int64, mapped []fsimage.Region) (*Map, error) {
	m, err := New(name, size, mapped)
	if err != nil {
		return nil, err
	}
	for i := range m.Ranges {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		reg := m.Region(i)
		h := m.NewHash()
		if n, err := io.Copy(h, io.NewSectionReader(img, reg.Offset, reg.Length)); err != nil || n != reg.Length {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("block map for %s: reading bytes %d-%d: %w", name, reg.Offset, reg.Offset+reg.Length-1, err)
		}
		m.Ranges[i].Checksum = hex.EncodeToString(h.Sum(nil))
	}
	return m, nil
}

// New makes a version 2.0 map (SHA-256, DefaultBlockSize) for an image of
// size bytes whose data lies in mapped: byte regions in any order, rounded
// out to whole blocks and merged. Its ranges have no checksums yet: a
// writer that streams the image hashes Region(i) with NewHash and sets
// Ranges[i].Checksum (Build reads them from the image instead).
func New(name string, size int64, mapped []fsimage.Region) (*Map, error) {
	if size <= 0 {
		return nil, fmt.Errorf("block map for %s: the image is empty", name)
	}
	m := &Map{Name: name, Version: "2.0", ImageSize: size, BlockSize: DefaultBlockSize, ChecksumType: "sha256"}
	m.BlocksCount = (size + m.BlockSize - 1) / m.BlockSize
	m.Ranges = blockRanges(mapped, m.BlockSize, m.BlocksCount)
	for _, r := range m.Ranges {
		m.MappedBlocksCount += r.Blocks()
	}
	return m, nil
}

// blockRanges turns byte regions into sorted, merged block ranges below
// blocks.
func blockRanges(mapped []fsimage.Region, bs, blocks int64) []Range {
	var rs []Range
	for _, reg := range mapped {
		if reg.Length <= 0 {
			continue
		}
		first, last := reg.Offset/bs, min((reg.Offset+reg.Length-1)/bs, blocks-1)
		if first <= last {
			rs = append(rs, Range{First: first, Last: last})
		}
	}
	slices.SortFunc(rs, func(a, b Range) int { return cmp.Compare(a.First, b.First) })
	var out []Range
	for _, r := range rs {
		if n := len(out); n > 0 && r.First <= out[n-1].Last+1 {
			out[n-1].Last = max(out[n-1].Last, r.Last)
			continue
		}
		out = append(out, r)
	}
	return out
}

// Marshal renders the map as a version 2.0 bmap file with its file
// checksum, laid out as `bmaptool create` writes it, and sets FileChecksum.
// The map must have a checksum type (a map parsed from a 1.0–1.2 file has
// none).
func (m *Map) Marshal() ([]byte, error) {
	if m.ChecksumType == "" {
		return nil, fmt.Errorf("block map %s has no checksum type; format 2.0 needs one", m.Name)
	}
	var b bytes.Buffer
	mapped := m.MappedBlocksCount * m.BlockSize
	fmt.Fprintf(&b, header, units.Bytes(m.ImageSize), m.ImageSize, m.BlockSize, m.BlocksCount)
	fmt.Fprintf(&b, "    <!-- Count of mapped blocks: %s or %.1f%% -->\n", units.Bytes(mapped), float64(m.MappedBlocksCount)*100/float64(m.BlocksCount))
	fmt.Fprintf(&b, "    <MappedBlocksCount> %d </MappedBlocksCount>\n\n", m.MappedBlocksCount)
	fmt.Fprintf(&b, "    <!-- Type of checksum used in this file -->\n    <ChecksumType> %s </ChecksumType>\n\n", m.ChecksumType)
	b.WriteString("    <!-- The checksum of this bmap file. When it is calculated, the value of\n" +
		"         the checksum has be zero (all ASCII \"0\" symbols).  -->\n    <BmapFileChecksum> ")
	sumAt := b.Len()
	b.WriteString(strings.Repeat("0", hexLen(m.ChecksumType)) + " </BmapFileChecksum>\n\n")
	b.WriteString("    <!-- The block map which consists of elements which may either be a\n" +
		"         range of blocks or a single block. The 'chksum' attribute\n" +
		"         (if present) is the checksum of this blocks range. -->\n    <BlockMap>\n")
	for _, r := range m.Ranges {
		attr := ""
		if r.Checksum != "" {
			attr = fmt.Sprintf(" chksum=\"%s\"", r.Checksum)
		}
		if r.First == r.Last {
			fmt.Fprintf(&b, "        <Range%s> %d </Range>\n", attr, r.First)
		} else {
			fmt.Fprintf(&b, "        <Range%s> %d-%d </Range>\n", attr, r.First, r.Last)
		}
	}
	b.WriteString("    </BlockMap>\n</bmap>\n")
	out := b.Bytes()
	h := m.NewHash()
	h.Write(out)
	m.FileChecksum = hex.EncodeToString(h.Sum(nil))
	copy(out[sumAt:], m.FileChecksum)
	return out, nil
}

// header is the start of a bmap file as bmaptool writes it: version, image
// size (for people, then bytes), block size, block count.
const header = `<?xml version="1.0" ?>
<!-- This file contains the block map for an image file, which is basically
     a list of useful (mapped) block numbers in the image file. In other words,
     it lists only those blocks which contain data (boot sector, partition
     table, file-system metadata, files, directories, extents, etc). These
     blocks have to be copied to the target device. The other blocks do not
     contain any useful data and do not have to be copied to the target
     device.

     Written by flashpipe in the format of bmaptool (bmap-tools). -->

<bmap version="2.0">
    <!-- Image size in bytes: %s -->
    <ImageSize> %d </ImageSize>

    <!-- Size of a block in bytes -->
    <BlockSize> %d </BlockSize>

    <!-- Count of blocks in the image file -->
    <BlocksCount> %d </BlocksCount>

`
