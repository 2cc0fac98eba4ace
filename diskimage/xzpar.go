package diskimage

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/ulikunitz/xz/lzma"
)

// decoderMemory bounds the memory of parallel xz decoding: each worker
// holds a dictionary (at most the block's size) and a chunk buffer, and
// only as many workers run as fit, so an xz -9 file (64 MiB dictionary)
// decodes on one core and an xz -6 one (8 MiB) on every core.
const decoderMemory = 64 << 20

// xzSeekable returns the blocks of src's xz data when it can be read at
// random (an .xz file, or xz stored uncompressed in a zip), and where that
// data starts in the file.
func xzSeekable(src *Source, f *os.File) ([]xzBlock, int64, bool) {
	var base, size int64
	switch {
	case src.Format == Xz:
		size = src.FileSize
	case src.Format == Zip && src.EntryFormat == Xz:
		zf, err := src.zipEntry(f)
		if err != nil || zf.Method != 0 {
			return nil, 0, false
		}
		if base, err = zf.DataOffset(); err != nil {
			return nil, 0, false
		}
		size = int64(zf.CompressedSize64)
	default:
		return nil, 0, false
	}
	blocks, _, err := xzLayout(io.NewSectionReader(f, base, size), size)
	if err != nil {
		return nil, 0, false // the serial decoder reports the damage
	}
	return blocks, base, true
}

// xzWorkers returns how many blocks to decode at once.
func xzWorkers(blocks []xzBlock) int {
	var per int64 = chunkSize + readBuf
	for _, b := range blocks {
		per = max(per, min(b.hdr.dict, b.size)+chunkSize+readBuf)
	}
	return max(1, min(runtime.GOMAXPROCS(0), len(blocks), int(decoderMemory/per)))
}

// xzProgress tracks how much of each block is written, and publishes the
// prefix of the image that is complete.
type xzProgress struct {
	e      *entry
	blocks []xzBlock
	mu     sync.Mutex
	done   []int64
	low    int // first block not complete
}

func (p *xzProgress) advance(i int, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[i] += n
	for p.low < len(p.blocks) && p.done[p.low] == p.blocks[p.low].size {
		p.low++
	}
	ready := p.blocks[len(p.blocks)-1].imageOff + p.blocks[len(p.blocks)-1].size
	if p.low < len(p.blocks) {
		ready = p.blocks[p.low].imageOff + p.done[p.low]
	}
	p.e.setReady(ready)
}

// decodeXz decodes an xz file's blocks in parallel, each written straight
// to its place in the cache file, while one goroutine hashes the image as
// its complete prefix grows (reading it back from the page cache) and
// another hashes the compressed bytes.
func (c *Cache) decodeXz(e *entry, f *os.File, base int64, blocks []xzBlock, fh hash.Hash) (int64, []byte, error) {
	ctx, cancel := context.WithCancelCause(c.ctx)
	defer cancel(nil)
	p := &xzProgress{e: e, blocks: blocks, done: make([]int64, len(blocks))}
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range xzWorkers(blocks) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := c.decodeXzBlock(ctx, e, f, base, blocks[i], i, p); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	var total int64
	if n := len(blocks); n > 0 {
		total = blocks[n-1].imageOff + blocks[n-1].size
	}
	// Blocks are written out of order, zero blocks not at all: the file
	// has its size from the start so that every ready byte reads back.
	if err := e.file.Truncate(total); err != nil {
		return 0, nil, c.writeError(e, 0, total, err)
	}
	var sum []byte
	var hashErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		if sum, hashErr = followHash(ctx, e, total); hashErr != nil {
			cancel(hashErr)
		}
	}()
	go func() {
		defer wg.Done()
		if _, err := io.Copy(fh, io.NewSectionReader(f, 0, e.src.compressedEnd(f))); err != nil {
			cancel(fmt.Errorf("image %s: %w", e.src.Path, err))
		}
	}()
feed:
	for i := range blocks {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		if c.ctx.Err() != nil {
			return 0, nil, errors.New("image cache closed during decompression")
		}
		return 0, nil, err
	}
	return total, sum, nil
}

// followHash hashes the image's first total bytes as they become ready.
func followHash(ctx context.Context, e *entry, total int64) ([]byte, error) {
	h := sha256.New()
	buf := make([]byte, chunkSize)
	var off int64
	for off < total {
		err := e.wait(ctx, func() bool { return e.ready > off })
		if err != nil {
			return nil, err
		}
		ready, _, _, _ := e.state()
		for off < ready {
			n := min(int64(len(buf)), ready-off)
			if _, err := e.file.ReadAt(buf[:n], off); err != nil {
				return nil, fmt.Errorf("image cache %s: reading back image byte %d: %w", e.c.dir, off, err)
			}
			h.Write(buf[:n])
			off += n
		}
	}
	return h.Sum(nil), nil
}

// newXzCheck returns the hash of an xz check type, or nil for none.
func newXzCheck(t byte) (hash.Hash, error) {
	switch t {
	case 0x00:
		return nil, nil
	case 0x01:
		return crc32.NewIEEE(), nil
	case 0x04:
		return crc64.New(crc64.MakeTable(crc64.ECMA)), nil
	case 0x0a:
		return sha256.New(), nil
	}
	return nil, fmt.Errorf("xz check type %#x is not one flashpipe knows (none, CRC32, CRC64, SHA-256)", t)
}

// decodeXzBlock decodes block i into its place in the cache file and
// checks its check value.
func (c *Cache) decodeXzBlock(ctx context.Context, e *entry, f *os.File, base int64, b xzBlock, i int, p *xzProgress) error {
	dataOff := base + b.fileOff + b.hdr.size
	compSize := b.unpadded - b.hdr.size - int64(xzCheckSizes[b.check])
	fail := func(done int64, err error) error {
		de := e.src.decodeError(err, &counter{n: dataOff + compSize}, 0, b.imageOff+done)
		de.(*DecodeError).Err = fmt.Errorf("block %d (file bytes %d-%d): %w", i+1, base+b.fileOff, dataOff+compSize-1, err)
		return de
	}
	check, err := newXzCheck(b.check)
	if err != nil {
		return fail(0, err)
	}
	r, err := lzma.Reader2Config{DictCap: int(max(lzma.MinDictCap, min(b.hdr.dict, b.size)))}.
		NewReader2(bufio.NewReaderSize(io.NewSectionReader(f, dataOff, compSize), readBuf))
	if err != nil {
		return fail(0, err)
	}
	buf := make([]byte, chunkSize)
	var done int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := fillBuf(r, buf[:min(int64(len(buf)), b.size-done+1)])
		if done+int64(n) > b.size {
			return fail(done, fmt.Errorf("the block holds more than the %d bytes its index gives", b.size))
		}
		if n > 0 {
			if check != nil {
				check.Write(buf[:n])
			}
			if werr := writeSparse(e.file, buf[:n], b.imageOff+done); werr != nil {
				return c.writeError(e, b.imageOff+done, int64(n), werr)
			}
			done += int64(n)
			p.advance(i, int64(n))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(done, err)
		}
	}
	if done != b.size {
		return fail(done, fmt.Errorf("the block ends after %d bytes, its index gives %d: %w", done, b.size, io.ErrUnexpectedEOF))
	}
	// The check follows the block's padding (zeros) to a multiple of 4.
	pad := (4 - (b.hdr.size+compSize)%4) % 4
	return verifyXzCheck(f, dataOff+compSize, pad, check, func(err error) error { return fail(done, err) })
}

// verifyXzCheck checks a block's padding (pad bytes at off, all zero) and
// compares its check value, after them, with the hash of what was decoded.
func verifyXzCheck(f *os.File, off, pad int64, check hash.Hash, fail func(error) error) error {
	size := 0
	if check != nil {
		size = check.Size()
	}
	b := make([]byte, pad+int64(size))
	if _, err := f.ReadAt(b, off); err != nil {
		return fail(err)
	}
	if !bytes.Equal(b[:pad], make([]byte, pad)) {
		return fail(errors.New("its padding is not zeros"))
	}
	if check == nil {
		return nil
	}
	want := b[pad:]
	got := check.Sum(nil)
	if len(got) <= 8 { // CRC32 and CRC64 are stored little-endian
		v := binary.BigEndian.Uint64(append(make([]byte, 8-len(got)), got...))
		got = binary.LittleEndian.AppendUint64(nil, v)[:len(got)]
	}
	if !bytes.Equal(got, want) {
		return fail(fmt.Errorf("its check value is %x, the file says %x", got, want))
	}
	return nil
}
