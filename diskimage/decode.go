package diskimage

import (
	"archive/zip"
	"bufio"
	"compress/bzip2"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// MaxWindow is the largest decoder window (xz dictionary, zstd window)
// flashpipe accepts: 64 MiB, what xz -9 uses, so every xz preset and every
// zstd level up to 19 decodes. Decoding needs about this much memory once
// per image, whatever the number of sticks; a file that asks for more is
// refused before decoding, naming the size it asks for.
const MaxWindow = 64 << 20

// readBuf is the size of the buffered reader under a decoder: the decoder's
// input position is known to within this.
const readBuf = 256 << 10

// counter counts and hashes the compressed bytes a decoder reads.
type counter struct {
	r    io.Reader
	n    int64
	hash hash.Hash // nil: count only
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.hash != nil {
		c.hash.Write(p[:n])
	}
	return n, err
}

// decoder is a stream of image bytes and what to close after it.
type decoder struct {
	io.Reader
	closers []func()
}

func (d *decoder) Close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
}

// decompress wraps r, the compressed bytes of format f, in its decoder.
func decompress(f Format, r io.Reader, d *decoder) (io.Reader, error) {
	switch f {
	case Raw:
		return r, nil
	case Gzip:
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		d.closers = append(d.closers, func() { z.Close() })
		return z, nil
	case Xz:
		return xz.ReaderConfig{}.NewReader(r)
	case Zstd:
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(MaxWindow))
		if err != nil {
			return nil, err
		}
		d.closers = append(d.closers, z.Close)
		return z, nil
	case Bzip2:
		return bzip2.NewReader(r), nil
	}
	panic(fmt.Sprintf("diskimage: decompress(%v)", f))
}

// zipMethods are the zip compression methods flashpipe reads.
var zipMethods = map[uint16]string{zip.Store: "stored", zip.Deflate: "deflate", 12: "bzip2", 93: "zstd", 95: "xz"}

const zipMethodList = "stored, deflate, bzip2, zstd or xz"

// unzip wraps r, the raw bytes of zip entry zf, in the decoder of its
// compression method and a check of its CRC-32 and size.
func unzip(zf *zip.File, r io.Reader, d *decoder) (io.Reader, error) {
	var out io.Reader
	var err error
	switch zf.Method {
	case zip.Store:
		out = r
	case zip.Deflate:
		fr := flate.NewReader(r)
		d.closers = append(d.closers, func() { fr.Close() })
		out = fr
	case 12:
		out, err = decompress(Bzip2, r, d)
	case 93:
		out, err = decompress(Zstd, r, d)
	case 95:
		out, err = decompress(Xz, r, d)
	default:
		return nil, fmt.Errorf("zip entry %s is compressed with method %d, which flashpipe does not read (%s)", zf.Name, zf.Method, zipMethodList)
	}
	if err != nil {
		return nil, err
	}
	return &crcReader{r: out, crc: crc32.NewIEEE(), want: zf.CRC32, size: zf.UncompressedSize64, name: zf.Name}, nil
}

// crcReader checks a zip entry's CRC-32 and size at its end.
type crcReader struct {
	r    io.Reader
	crc  hash.Hash32
	want uint32
	n    uint64
	size uint64
	name string
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc.Write(p[:n])
	c.n += uint64(n)
	if c.n > c.size {
		return n, fmt.Errorf("zip entry %s holds more than the %d bytes its directory gives", c.name, c.size)
	}
	if errors.Is(err, io.EOF) {
		if c.n != c.size {
			return n, fmt.Errorf("zip entry %s ends after %d bytes, its directory gives %d", c.name, c.n, c.size)
		}
		if c.crc.Sum32() != c.want {
			return n, fmt.Errorf("zip entry %s: CRC-32 %08x, its directory gives %08x: %w", c.name, c.crc.Sum32(), c.want, zip.ErrChecksum)
		}
	}
	return n, err
}

// stream opens the decoded image of src from f (the source file, opened
// by the caller). The counter it returns counts (and, with h, hashes) the
// compressed bytes read from the file; base is where they start in it.
func stream(src *Source, f io.ReaderAt, h hash.Hash) (*decoder, *counter, int64, error) {
	d := &decoder{}
	base, length := int64(0), src.FileSize
	var zf *zip.File
	if src.Format == Zip {
		var err error
		zf, err = src.zipEntry(f)
		if err != nil {
			return nil, nil, 0, err
		}
		if base, err = zf.DataOffset(); err != nil {
			return nil, nil, 0, fmt.Errorf("%s: zip entry %s: %w", src.Path, zf.Name, err)
		}
		length = int64(zf.CompressedSize64)
	}
	c := &counter{r: io.NewSectionReader(f, base, length), hash: h}
	var r io.Reader = bufio.NewReaderSize(c, readBuf)
	var err error
	if zf != nil {
		if r, err = unzip(zf, r, d); err == nil && src.EntryFormat != Raw {
			r, err = decompress(src.EntryFormat, bufio.NewReaderSize(r, readBuf), d)
		}
	} else {
		r, err = decompress(src.Format, r, d)
	}
	if err != nil {
		d.Close()
		return nil, nil, 0, err
	}
	d.Reader = r
	return d, c, base, nil
}
