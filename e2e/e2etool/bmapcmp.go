package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// bmapFile is the part of a bmaptool block map bmapcmp needs.
type bmapFile struct {
	ImageSize  string `xml:"ImageSize"`
	BlockSize  string `xml:"BlockSize"`
	BlockRange []struct {
		Text string `xml:",chardata"`
	} `xml:"BlockMap>Range"`
}

// span is a byte range [off, end).
type span struct{ off, end int64 }

// readBmap returns the image size and the mapped byte ranges of a bmap,
// each clamped to the image's end, in file order.
func readBmap(path string) (int64, []span, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, err
	}
	var f bmapFile
	if err := xml.Unmarshal(b, &f); err != nil {
		return 0, nil, fmt.Errorf("%s: %v", path, err)
	}
	size, err1 := strconv.ParseInt(strings.TrimSpace(f.ImageSize), 10, 64)
	bs, err2 := strconv.ParseInt(strings.TrimSpace(f.BlockSize), 10, 64)
	if err1 != nil || err2 != nil || bs <= 0 {
		return 0, nil, fmt.Errorf("%s: bad ImageSize %q or BlockSize %q", path, f.ImageSize, f.BlockSize)
	}
	var spans []span
	for _, r := range f.BlockRange {
		a, z, ok := strings.Cut(strings.TrimSpace(r.Text), "-")
		if !ok {
			z = a
		}
		first, err1 := strconv.ParseInt(a, 10, 64)
		last, err2 := strconv.ParseInt(z, 10, 64)
		if err1 != nil || err2 != nil || last < first {
			return 0, nil, fmt.Errorf("%s: bad range %q", path, r.Text)
		}
		spans = append(spans, span{first * bs, min((last+1)*bs, size)})
	}
	return size, spans, nil
}

// bmapcmp compares disk with image inside every range bmap maps, and
// counts the bytes outside them (up to the image's end) where the two
// differ. It prints "MAPPED_BYTES IMAGE_BYTES UNMAPPED_DIFFERING" and
// exits 0, or names the first differing mapped byte and exits 1.
func bmapcmp(bmapPath, imagePath, diskPath string, stdout, stderr io.Writer) int {
	size, spans, err := readBmap(bmapPath)
	if err != nil {
		fmt.Fprintln(stderr, "e2etool:", err)
		return 1
	}
	image, disk, err := openPair(imagePath, diskPath)
	if err != nil {
		fmt.Fprintln(stderr, "e2etool:", err)
		return 1
	}
	defer image.Close()
	defer disk.Close()
	var mapped, unmappedDiff int64
	pos := int64(0)
	for _, s := range append(spans, span{size, size}) {
		if s.off < pos {
			fmt.Fprintf(stderr, "e2etool: %s: ranges overlap or are out of order at byte %d\n", bmapPath, s.off)
			return 1
		}
		n, _, err := compareRange(image, disk, pos, s.off)
		if err != nil {
			fmt.Fprintln(stderr, "e2etool:", err)
			return 1
		}
		unmappedDiff += n
		n, first, err := compareRange(image, disk, s.off, s.end)
		if err != nil {
			fmt.Fprintln(stderr, "e2etool:", err)
			return 1
		}
		if n > 0 {
			fmt.Fprintf(stderr, "e2etool: %s differs from %s in %d bytes of the mapped range %d-%d, first at byte %d\n",
				diskPath, imagePath, n, s.off, s.end-1, first)
			return 1
		}
		mapped += s.end - s.off
		pos = s.end
	}
	fmt.Fprintln(stdout, mapped, size, unmappedDiff)
	return 0
}

// openPair opens the image and the disk (a disk shorter than the image
// fails the comparison when its end is read).
func openPair(imagePath, diskPath string) (*os.File, *os.File, error) {
	image, err := os.Open(imagePath)
	if err != nil {
		return nil, nil, err
	}
	disk, err := os.Open(diskPath)
	if err != nil {
		image.Close()
		return nil, nil, err
	}
	return image, disk, nil
}

// compareRange reads [off, end) of a and b and returns how many bytes
// differ and the offset of the first that does.
func compareRange(a, b io.ReaderAt, off, end int64) (diff, first int64, err error) {
	const chunk = 1 << 20
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	first = -1
	for o := off; o < end; o += chunk {
		n := int(min(chunk, end-o))
		if _, err := a.ReadAt(ba[:n], o); err != nil {
			return 0, 0, fmt.Errorf("reading the image at byte %d: %v", o, err)
		}
		if _, err := b.ReadAt(bb[:n], o); err != nil {
			return 0, 0, fmt.Errorf("reading the disk at byte %d: %v", o, err)
		}
		if bytes.Equal(ba[:n], bb[:n]) {
			continue
		}
		for i := range n {
			if ba[i] != bb[i] {
				if first < 0 {
					first = o + int64(i)
				}
				diff++
			}
		}
	}
	return diff, first, nil
}
