package diskimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// An xz file is streams (header, blocks, index, footer) separated by
// padding; the index at each stream's end lists its blocks' sizes. Reading
// the indexes from the file's end gives the image's size, and every
// block's place in the file and in the image, without decoding anything:
// Open uses the size, the filler decodes blocks in parallel
// (xz-file-format-1.0.4.txt, tukaani.org).

// xzBlock is one block of an xz file.
type xzBlock struct {
	fileOff     int64 // where its header starts in the file
	unpadded    int64 // header + compressed data + check, without padding
	imageOff    int64 // where its data starts in the image
	size        int64 // its uncompressed size
	check       byte  // the stream's check type
	streamIndex int
	hdr         xzBlockHeader
}

// xzLayout reads the indexes and every block header of the xz data in r
// (size bytes): its blocks and the image's size. A block that needs a
// dictionary above MaxWindow is an error.
func xzLayout(r io.ReaderAt, size int64) ([]xzBlock, int64, error) {
	blocks, total, err := xzIndex(r, size)
	if err != nil {
		return nil, 0, err
	}
	buf := make([]byte, 1024)
	for i := range blocks {
		b := &blocks[i]
		n, err := r.ReadAt(buf[:min(int64(len(buf)), b.unpadded)], b.fileOff)
		if err != nil && err != io.EOF {
			return nil, 0, err
		}
		if b.hdr, err = parseXzBlockHeader(buf[:n]); err != nil {
			return nil, 0, fmt.Errorf("block %d at byte %d: %w", i+1, b.fileOff, err)
		}
		if err := checkDict(b.hdr.dict); err != nil {
			return nil, 0, fmt.Errorf("block %d at byte %d: %w", i+1, b.fileOff, err)
		}
		if b.hdr.size+int64(xzCheckSizes[b.check]) >= b.unpadded {
			return nil, 0, fmt.Errorf("block %d at byte %d is smaller than its header and check", i+1, b.fileOff)
		}
	}
	return blocks, total, nil
}

// checkDict refuses a dictionary above MaxWindow.
func checkDict(dict int64) error {
	if dict > MaxWindow {
		return fmt.Errorf("it needs a %d MiB dictionary; flashpipe decodes up to %d MiB (xz -9), to bound its memory: recompress it with xz -9 or less",
			dict>>20, MaxWindow>>20)
	}
	return nil
}

// checkXzHead checks the first block of the xz data that starts with head,
// for data that is not seekable (xz inside a compressed zip entry), whose
// later blocks are checked as they come.
func checkXzHead(head []byte) error {
	if len(head) < 12+8 || !bytes.Equal(head[:6], xzHeaderMagic) {
		return errors.New("no xz stream header")
	}
	if head[12] == 0 { // no blocks: the index follows
		return nil
	}
	h, err := parseXzBlockHeader(head[12:])
	if err != nil {
		return fmt.Errorf("first block: %w", err)
	}
	return checkDict(h.dict)
}

// xzCheckSizes gives the size of each check type's value (types 0x00-0x0f).
var xzCheckSizes = [16]int{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}

var (
	xzHeaderMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	xzFooterMagic = []byte{'Y', 'Z'}
)

// xzIndex reads the indexes of the xz data in r (size bytes) and returns
// its blocks in order and the image's size.
func xzIndex(r io.ReaderAt, size int64) ([]xzBlock, int64, error) {
	var streams [][]xzBlock
	pos := size
	for pos > 0 {
		var err error
		if pos, err = skipPadding(r, pos); err != nil || pos == 0 {
			if err == nil {
				err = errors.New("only padding")
			}
			return nil, 0, err
		}
		blocks, start, err := xzStream(r, pos)
		if err != nil {
			return nil, 0, err
		}
		streams = append(streams, blocks)
		pos = start
	}
	var all []xzBlock
	var off int64
	for i := len(streams) - 1; i >= 0; i-- {
		for _, b := range streams[i] {
			b.imageOff = off
			b.streamIndex = len(streams) - 1 - i
			off += b.size
			all = append(all, b)
		}
	}
	return all, off, nil
}

// skipPadding steps back over stream padding (zero bytes in groups of 4).
func skipPadding(r io.ReaderAt, pos int64) (int64, error) {
	var w [4]byte
	for pos >= 4 {
		if _, err := r.ReadAt(w[:], pos-4); err != nil {
			return 0, err
		}
		if w != [4]byte{} {
			return pos, nil
		}
		pos -= 4
	}
	if pos != 0 {
		return 0, fmt.Errorf("%d bytes that are not an xz stream at the start", pos)
	}
	return 0, nil
}

// xzStream reads the stream that ends at end: its footer, index and
// header. It returns its blocks and where the stream starts.
func xzStream(r io.ReaderAt, end int64) ([]xzBlock, int64, error) {
	if end < 32 {
		return nil, 0, fmt.Errorf("stream ending at byte %d is too short", end)
	}
	var foot [12]byte
	if _, err := r.ReadAt(foot[:], end-12); err != nil {
		return nil, 0, err
	}
	if !bytes.Equal(foot[10:], xzFooterMagic) || crc32.ChecksumIEEE(foot[4:10]) != binary.LittleEndian.Uint32(foot[:4]) {
		return nil, 0, fmt.Errorf("no valid stream footer at byte %d (is the file truncated?)", end-12)
	}
	flags := foot[8:10]
	indexSize := (int64(binary.LittleEndian.Uint32(foot[4:8])) + 1) * 4
	indexOff := end - 12 - indexSize
	if indexOff < 12 {
		return nil, 0, fmt.Errorf("index size %d at byte %d points before the file's start", indexSize, end-12)
	}
	index := make([]byte, indexSize)
	if _, err := r.ReadAt(index, indexOff); err != nil {
		return nil, 0, err
	}
	blocks, err := parseXzIndex(index)
	if err != nil {
		return nil, 0, fmt.Errorf("index at byte %d: %w", indexOff, err)
	}
	var total int64
	for _, b := range blocks {
		total += (b.unpadded + 3) &^ 3
	}
	start := indexOff - total - 12
	if start < 0 {
		return nil, 0, fmt.Errorf("index at byte %d lists %d bytes of blocks, more than precede it", indexOff, total)
	}
	var head [12]byte
	if _, err := r.ReadAt(head[:], start); err != nil {
		return nil, 0, err
	}
	if !bytes.Equal(head[:6], xzHeaderMagic) || !bytes.Equal(head[6:8], flags) || crc32.ChecksumIEEE(head[6:8]) != binary.LittleEndian.Uint32(head[8:]) {
		return nil, 0, fmt.Errorf("no stream header matching the footer at byte %d", start)
	}
	off := start + 12
	for i := range blocks {
		blocks[i].fileOff = off
		blocks[i].check = flags[1] & 0x0f
		off += (blocks[i].unpadded + 3) &^ 3
	}
	return blocks, start, nil
}

// parseXzIndex reads an index: indicator, record count, records (unpadded
// and uncompressed size), padding, CRC-32.
func parseXzIndex(b []byte) ([]xzBlock, error) {
	if len(b) < 8 || b[0] != 0 || crc32.ChecksumIEEE(b[:len(b)-4]) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, errors.New("not a valid index")
	}
	p := b[1 : len(b)-4]
	n, p, err := uvarint(p)
	if err != nil || n > uint64(len(p)) {
		return nil, errors.New("bad record count")
	}
	blocks := make([]xzBlock, n)
	for i := range blocks {
		var unpadded, size uint64
		if unpadded, p, err = uvarint(p); err == nil {
			size, p, err = uvarint(p)
		}
		if err != nil || unpadded < 5 || unpadded > 1<<62 || size > 1<<62 {
			return nil, fmt.Errorf("bad record %d", i+1)
		}
		blocks[i].unpadded, blocks[i].size = int64(unpadded), int64(size)
	}
	if len(p) > 3 || !bytes.Equal(p, make([]byte, len(p))) {
		return nil, errors.New("bad index padding")
	}
	return blocks, nil
}

// uvarint reads xz's multibyte integer (at most 9 bytes).
func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 || n > 9 {
		return 0, nil, errors.New("bad integer")
	}
	return v, b[n:], nil
}

// xzBlockHeader is what flashpipe needs of a block header.
type xzBlockHeader struct {
	size int64 // the header's size in bytes
	dict int64 // the LZMA2 dictionary size
}

// parseXzBlockHeader reads a block header from b (which holds at least
// the header). Only blocks with the LZMA2 filter alone are read: the one
// filter xz uses unless told otherwise.
func parseXzBlockHeader(b []byte) (xzBlockHeader, error) {
	if len(b) == 0 || b[0] == 0 {
		return xzBlockHeader{}, errors.New("no block header")
	}
	size := (int(b[0]) + 1) * 4
	if len(b) < size || crc32.ChecksumIEEE(b[:size-4]) != binary.LittleEndian.Uint32(b[size-4:size]) {
		return xzBlockHeader{}, errors.New("damaged block header")
	}
	flags := b[1]
	p := b[2 : size-4]
	var err error
	for _, present := range []bool{flags&0x40 != 0, flags&0x80 != 0} {
		if present {
			if _, p, err = uvarint(p); err != nil {
				return xzBlockHeader{}, errors.New("damaged block header")
			}
		}
	}
	id, p, err1 := uvarint(p)
	n, p, err2 := uvarint(p)
	if flags&0x03 != 0 || id != 0x21 {
		return xzBlockHeader{}, fmt.Errorf("the block uses xz filters other than LZMA2 alone (filter %#x); flashpipe reads LZMA2 only: decompress it with xz and use the .img", id)
	}
	if err1 != nil || err2 != nil || n != 1 || len(p) < 1 || p[0] > 40 {
		return xzBlockHeader{}, errors.New("damaged LZMA2 filter properties")
	}
	return xzBlockHeader{size: int64(size), dict: lzma2Dict(p[0])}, nil
}

// lzma2Dict decodes LZMA2's dictionary size byte.
func lzma2Dict(c byte) int64 {
	if c == 40 {
		return 0xffffffff
	}
	return int64(2|c&1) << (c/2 + 11)
}
