package diskimage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/flashpipe/flashpipe/diskimage/bmap"
	"github.com/flashpipe/flashpipe/fsimage"
)

// Image is one user's handle on a cache entry: a stick's job reads the
// image through it while the entry may still be filling. Its methods are
// safe for concurrent use.
type Image struct {
	c     *Cache
	e     *entry
	src   *Source
	check *bmapCheck // nil without a block map
	once  sync.Once
}

// Span is a run of the image that holds data, or (Data false) a hole:
// zeros that the cache does not store. A writer must still make a hole
// inside a mapped range read back as zeros on the stick (write zeros or
// BLKZEROOUT): old data must never show through.
type Span struct {
	Offset, Length int64
	Data           bool
}

// bmapCheck checks one block map's range checksums against an entry as it
// fills, once for every Image that uses the map. Its fields change under
// the entry's lock.
type bmapCheck struct {
	m    *bmap.Map
	upTo int64 // every mapped byte below it is checked
	err  error
}

// newImage returns a handle on e for src, starting the check of src's
// block map if no other Image has. c.mu is held.
func (c *Cache) newImage(e *entry, src *Source) *Image {
	im := &Image{c: c, e: e, src: src}
	if m := src.Bmap; m != nil {
		key := fmt.Sprintf("%s\x00%s\x00%d", m.Name, m.FileChecksum, len(m.Ranges))
		if e.checks == nil {
			e.checks = map[string]*bmapCheck{}
		}
		if im.check = e.checks[key]; im.check == nil {
			im.check = &bmapCheck{m: m, upTo: firstRange(m)}
			e.checks[key] = im.check
			e.refs++
			c.wg.Add(1)
			go c.runCheck(e, im.check)
		}
	}
	return im
}

func firstRange(m *bmap.Map) int64 {
	if len(m.Ranges) == 0 {
		return m.ImageSize
	}
	return m.Region(0).Offset
}

// runCheck verifies each range of chk's map as soon as the entry holds it,
// then the image's size against the map's.
func (c *Cache) runCheck(e *entry, chk *bmapCheck) {
	defer c.wg.Done()
	defer c.release(e)
	m := chk.m
	fail := func(err error) { e.update(func() { chk.err = err }) }
	for i := range m.Ranges {
		end := m.Region(i).Offset + m.Region(i).Length
		if err := e.wait(c.ctx, func() bool { return e.ready >= end || e.done }); err != nil {
			return // the Images see the entry's failure
		}
		if err := m.VerifyRange(e.file, i); err != nil {
			fail(err)
			return
		}
		next := m.ImageSize
		if i+1 < len(m.Ranges) {
			next = m.Region(i + 1).Offset
		}
		e.update(func() { chk.upTo = next })
	}
	if err := e.wait(c.ctx, func() bool { return e.done }); err != nil {
		return
	}
	if _, size, _, _ := e.state(); size != m.ImageSize {
		fail(fmt.Errorf("block map %s is for an image of %d bytes, but %s is %d bytes: the map belongs to another image", m.Name, m.ImageSize, e.src.Name(), size))
		return
	}
	e.update(func() { chk.upTo = math.MaxInt64 })
}

// Source returns the Source the Image was got for.
func (im *Image) Source() *Source { return im.src }

// Bmap returns the block map, nil without one.
func (im *Image) Bmap() *bmap.Map { return im.src.Bmap }

// Size returns the image's size, or -1 while it is not known (see
// Source.Size).
func (im *Image) Size() int64 {
	_, size, _, _ := im.e.state()
	return size
}

// Ready returns how many of the image's first bytes are in the cache.
func (im *Image) Ready() int64 {
	ready, _, _, _ := im.e.state()
	return ready
}

// WaitFor returns when the image's first end bytes are in the cache (or
// the whole image, when it is shorter) and every block-map range that
// starts below end has matched its checksum; or with the error that
// stopped decompression or the check, or ctx's. A stick's writer calls it
// before reading a range, and so never waits for another stick.
func (im *Image) WaitFor(ctx context.Context, end int64) error {
	e, chk := im.e, im.check
	err := e.wait(ctx, func() bool {
		filled := e.ready >= end || e.done
		return chk == nil && filled || chk != nil && (chk.err != nil || filled && chk.upTo >= end)
	})
	if err != nil {
		return err
	}
	if chk != nil {
		e.mu.Lock()
		defer e.mu.Unlock()
		return chk.err
	}
	return nil
}

// WaitSize returns the image's size as soon as it is known: at once when
// the file or the block map gives it, at the end of decompression for
// gzip, bzip2 and zstd.
func (im *Image) WaitSize(ctx context.Context) (int64, error) {
	if err := im.e.wait(ctx, func() bool { return im.e.size >= 0 }); err != nil {
		return 0, err
	}
	return im.Size(), nil
}

// Wait waits for the whole image (and its block-map check) and returns the
// entry's metadata: the image's size and SHA-256 and the compressed file's,
// for the receipt.
func (im *Image) Wait(ctx context.Context) (Meta, error) {
	if err := im.WaitFor(ctx, math.MaxInt64); err != nil {
		return Meta{}, err
	}
	im.e.mu.Lock()
	defer im.e.mu.Unlock()
	return im.e.meta, nil
}

// errNotReady is returned by ReadAt for bytes WaitFor has not waited for.
var errNotReady = errors.New("not in the image cache yet: call WaitFor first")

// ReadAt reads the image at off. Every byte asked for must be ready (see
// WaitFor); past the image's end it returns io.EOF as a file does.
func (im *Image) ReadAt(p []byte, off int64) (int, error) {
	if err := im.readable(off + int64(len(p))); err != nil {
		return 0, fmt.Errorf("reading image %s bytes %d-%d: %w", im.src.Name(), off, off+int64(len(p))-1, err)
	}
	return im.e.file.ReadAt(p, off)
}

// readable returns nil when [0, end) is ready and checked.
func (im *Image) readable(end int64) error {
	e := im.e
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.err != nil:
		return e.err
	case im.check != nil && im.check.err != nil:
		return im.check.err
	case !e.done && end > e.ready, im.check != nil && end > im.check.upTo:
		return errNotReady
	}
	return nil
}

// Spans returns the data and holes of [off, end), which must be ready:
// where the cache file holds data and where it holds zeros it did not
// store.
func (im *Image) Spans(off, end int64) ([]Span, error) {
	if err := im.readable(end); err != nil {
		return nil, fmt.Errorf("image %s bytes %d-%d: %w", im.src.Name(), off, end-1, err)
	}
	return spans(im.e.file, off, end)
}

// Mapped returns the byte ranges a writer must write: the block map's
// ranges, or the whole image without one (waiting for its size when the
// format does not give it up front).
func (im *Image) Mapped(ctx context.Context) ([]fsimage.Region, error) {
	if m := im.src.Bmap; m != nil {
		return m.Regions(), nil
	}
	size, err := im.WaitSize(ctx)
	if err != nil {
		return nil, err
	}
	return []fsimage.Region{{Offset: 0, Length: size}}, nil
}

// Close releases the Image. The entry's decompression goes on for the
// next stick; Cache.Close stops it.
func (im *Image) Close() error {
	im.once.Do(func() { im.c.release(im.e) })
	return nil
}
