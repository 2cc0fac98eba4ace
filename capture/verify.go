package capture

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"

	"github.com/flashpipe/flashpipe/diskimage"
	"github.com/flashpipe/flashpipe/diskimage/bmap"
	"github.com/flashpipe/flashpipe/fsimage"
)

// diskimageFormats is what diskimage must detect each output format as.
var diskimageFormats = map[Format]diskimage.Format{Raw: diskimage.Raw, Zstd: diskimage.Zstd, Xz: diskimage.Xz, Gzip: diskimage.Gzip}

// readBack opens the written image (part, read as the station will read
// name) and its block map (bmapPart, "" for none) with diskimage, decodes
// the image in one pass, and checks every byte: each mapped range must
// have the SHA-256 taken while the source was read (m's checksums) and the
// one the block map file gives, and every byte outside them must be zero.
// It returns the image's SHA-256.
func readBack(ctx context.Context, part, name, bmapPart string, f Format, m *bmap.Map, progress func(done, total int64)) (string, error) {
	src, err := diskimage.Open(part, diskimage.Options{Name: name, Bmap: bmapPart})
	if err != nil {
		return "", err
	}
	if want := diskimageFormats[f]; src.Format != want {
		return "", fmt.Errorf("%s reads as %s, want %s", part, src.Format, want)
	}
	var file *bmap.Map
	if bmapPart != "" {
		file = src.Bmap
		if !slices.EqualFunc(file.Ranges, m.Ranges, func(a, b bmap.Range) bool { return a == b }) || file.ImageSize != m.ImageSize {
			return "", fmt.Errorf("block map %s does not hold the ranges and checksums it was written with", bmapPart)
		}
	}
	r, err := src.Stream()
	if err != nil {
		return "", err
	}
	defer r.Close()
	v := &checker{m: m, file: file, regs: m.Regions(), whole: sha256.New(), part: part}
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := r.Read(buf)
		if n > 0 {
			if cerr := v.feed(buf[:n]); cerr != nil {
				return "", cerr
			}
			if progress != nil {
				progress(v.off, m.ImageSize)
			}
		}
		if err == io.EOF { // Stream's own end; its errors are not io.EOF
			break
		}
		if err != nil {
			return "", err
		}
	}
	if v.off != m.ImageSize {
		return "", fmt.Errorf("%s holds an image of %d bytes, want %d", part, v.off, m.ImageSize)
	}
	return hex.EncodeToString(v.whole.Sum(nil)), nil
}

// checker checks the decoded image as it streams past.
type checker struct {
	m, file *bmap.Map // the source's checksums; the block map file's (nil without)
	regs    []fsimage.Region
	i       int       // the next or current range
	h       hash.Hash // range i's hash so far
	off     int64     // image bytes checked
	whole   hash.Hash
	part    string
}

// feed checks the next bytes of the image.
func (c *checker) feed(p []byte) error {
	c.whole.Write(p)
	for len(p) > 0 {
		if c.i < len(c.regs) && c.off >= c.regs[c.i].Offset {
			end := c.regs[c.i].Offset + c.regs[c.i].Length
			k := int(min(int64(len(p)), end-c.off))
			if c.h == nil {
				c.h = c.m.NewHash()
			}
			c.h.Write(p[:k])
			p, c.off = p[k:], c.off+int64(k)
			if c.off == end {
				if err := c.rangeDone(); err != nil {
					return err
				}
			}
			continue
		}
		next := c.m.ImageSize
		if c.i < len(c.regs) {
			next = c.regs[c.i].Offset
		}
		k := int(min(int64(len(p)), next-c.off))
		if k <= 0 {
			return fmt.Errorf("%s holds more than the image's %d bytes", c.part, c.m.ImageSize)
		}
		if !allZero(p[:k]) {
			return fmt.Errorf("%s: image bytes %d-%d lie outside every mapped range but are not all zeros", c.part, c.off, c.off+int64(k)-1)
		}
		p, c.off = p[k:], c.off+int64(k)
	}
	return nil
}

// rangeDone compares range i's hash with the source's and the map file's.
func (c *checker) rangeDone() error {
	sum := c.h.Sum(nil)
	c.h = nil
	i := c.i
	c.i++
	var ce *bmap.ChecksumError
	if err := c.m.CheckRange(i, sum); errors.As(err, &ce) {
		return fmt.Errorf("%s differs from what was read: %s has SHA-256 %s read back, %s when it was read from the source", c.part, ce.Range, ce.Got, ce.Want)
	} else if err != nil {
		return err
	}
	if c.file != nil {
		return c.file.CheckRange(i, sum)
	}
	return nil
}
