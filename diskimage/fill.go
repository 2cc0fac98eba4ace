package diskimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
)

// chunkSize is how much the serial decoder hands the writer at a time, and
// how often readers learn of progress.
const chunkSize = 1 << 20

// holeBlock is the size of the zero blocks left as holes in the cache.
const holeBlock = 4096

var zeroBlock [holeBlock]byte

// fill decompresses e's source into e.file and publishes the outcome.
func (c *Cache) fill(e *entry) {
	defer c.wg.Done()
	meta, err := c.decode(e)
	if err != nil {
		os.Remove(e.file.Name())
		c.forget(e)
		e.update(func() { e.err = err })
	} else {
		e.update(func() { e.done, e.meta, e.ready, e.size = true, meta, meta.Size, meta.Size })
	}
	c.release(e)
}

// decode fills e and, when the image is whole and its source unchanged,
// makes it a complete entry.
func (c *Cache) decode(e *entry) (Meta, error) {
	src := e.src
	f, _, err := fsimage.OpenRegular(src.Path)
	if err != nil {
		return Meta{}, fmt.Errorf("image %s: %w", src.Path, err)
	}
	defer f.Close()
	if err := e.unchanged(f); err != nil {
		return Meta{}, err
	}
	fh := sha256.New()
	var size int64
	var sum []byte
	if blocks, base, ok := xzSeekable(src, f); ok {
		size, sum, err = c.decodeXz(e, f, base, blocks, fh)
	} else {
		size, sum, err = c.decodeSerial(e, f, fh)
	}
	if err == nil {
		err = c.settle(e, size)
	}
	if err != nil {
		if cerr := e.unchanged(f); cerr != nil && c.ctx.Err() == nil {
			return Meta{}, fmt.Errorf("%w (decoding it: %v)", cerr, err)
		}
		return Meta{}, err
	}
	if err := e.unchanged(f); err != nil {
		return Meta{}, err
	}
	m := Meta{Source: src.Path, Entry: src.Entry, Format: src.Format.String(), FileSize: src.FileSize,
		FileSHA256: hex.EncodeToString(fh.Sum(nil)), Size: size, SHA256: hex.EncodeToString(sum), Created: time.Now().UTC()}
	if src.Format == Zip {
		m.Format = "zip/" + src.EntryFormat.String()
	}
	id := sha256.Sum256([]byte("flashpipe image cache 1\n" + m.FileSHA256 + "\n" + m.Entry + "\n"))
	m.ID = hex.EncodeToString(id[:])
	return m, c.commit(e, m)
}

// unchanged checks that the source file (open as f) and the file at its
// path are still the one e was keyed by.
func (e *entry) unchanged(f *os.File) error {
	fi, err := f.Stat()
	if err == nil && identify(fi) == e.key.fileID {
		fi, err = os.Stat(e.src.Path)
		if err == nil && identify(fi) == e.key.fileID {
			return nil
		}
	}
	return &ChangedError{Path: e.src.Path, When: "while it was being decompressed"}
}

// ChangedError says that the image file changed (was written, touched,
// replaced or removed) while it was being decompressed — what was decoded
// matches neither the old file nor the new one for certain, so it is
// discarded — or since Open read it.
type ChangedError struct {
	Path string
	When string // "while it was being decompressed", "since it was opened"
}

// Error says which file changed, when, and what to do.
func (e *ChangedError) Error() string {
	return fmt.Sprintf("image %s changed on disk %s; nothing decoded from it is used: "+
		"replace an image only while no stick is being written, then start again", e.Path, e.When)
}

// settle checks the size against what the file declared, gives the cache
// file its size (trailing zeros stay a hole) and flushes it.
func (c *Cache) settle(e *entry, size int64) error {
	if e.src.Size >= 0 && e.src.SizeFrom != "block map" && size != e.src.Size {
		return &DecodeError{What: e.src.describe(), ImageOffset: size, FileOffset: e.src.FileSize, FileSize: e.src.FileSize,
			Err: fmt.Errorf("it decodes to %d bytes, but its %s gives %d", size, e.src.SizeFrom, e.src.Size)}
	}
	if err := e.file.Truncate(size); err != nil {
		return c.writeError(e, size, 0, err)
	}
	if err := e.file.Sync(); err != nil {
		return c.writeError(e, 0, size, err)
	}
	return nil
}

// commit renames the filled file to its entry's name and writes its
// metadata, then the stat index that points to it. An entry with the same
// content already there (the same image under another name) is kept, the
// new copy dropped.
func (c *Cache) commit(e *entry, m Meta) error {
	img := c.path(m.ID, ".img")
	if fi, err := os.Stat(img); err == nil && fi.Size() == m.Size && fileExists(c.path(m.ID, ".json")) {
		os.Remove(e.file.Name())
	} else {
		if err := os.Rename(e.file.Name(), img); err != nil {
			return c.writeError(e, 0, m.Size, err)
		}
		if err := writeJSON(c.path(m.ID, ".json"), m); err != nil {
			os.Remove(img)
			return c.writeError(e, 0, m.Size, err)
		}
	}
	idx := struct {
		Key entryKey `json:"key"`
		ID  string   `json:"id"`
	}{e.key, m.ID}
	if err := writeJSON(filepath.Join(c.dir, "stat", e.key.name()), idx); err != nil {
		return c.writeError(e, 0, m.Size, err)
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// writeError names the cache, the image and the bytes a write to the cache
// failed on; a full disk says so.
func (c *Cache) writeError(e *entry, off, n int64, err error) error {
	hint := ""
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		hint = ": the cache's filesystem is full; free space there or point the image cache at a bigger one"
	}
	return fmt.Errorf("image cache %s: writing image bytes %d-%d of %s: %w%s", c.dir, off, off+n, e.src.Name(), err, hint)
}

// chunk is decoded bytes; or, with err, the bytes decoded before the error
// that ended decoding and how far the file had been read.
type chunk struct {
	buf     []byte
	err     error
	fileOff int64
}

// decodeSerial decodes the source as one stream: a goroutine decodes into
// chunks while this one hashes them and writes them sparsely, so the two
// cores share the work. It returns the image's size and SHA-256, and
// leaves the compressed file's SHA-256 in fh.
func (c *Cache) decodeSerial(e *entry, f *os.File, fh hash.Hash) (int64, []byte, error) {
	d, cnt, base, err := stream(e.src, f, fh)
	if err != nil {
		return 0, nil, e.src.decodeError(err, cnt, base, 0)
	}
	ctx, cancel := context.WithCancel(c.ctx)
	chunks, free := make(chan chunk, 2), make(chan []byte, 3)
	for range cap(free) {
		free <- make([]byte, chunkSize)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(chunks)
		readChunks(ctx, d, cnt, free, chunks)
	}()
	defer func() {
		cancel()
		wg.Wait()
		d.Close()
	}()
	ih := sha256.New()
	var off int64
	for ch := range chunks {
		if ch.err != nil {
			return 0, nil, e.src.decodeError(ch.err, &counter{n: ch.fileOff}, base, off+int64(len(ch.buf)))
		}
		if err := e.src.checkDeclared(off + int64(len(ch.buf))); err != nil {
			return 0, nil, err
		}
		ih.Write(ch.buf)
		if err := writeSparse(e.file, ch.buf, off); err != nil {
			return 0, nil, c.writeError(e, off, int64(len(ch.buf)), err)
		}
		off += int64(len(ch.buf))
		// Zeros left unwritten at the end must read as zeros, not EOF.
		if err := e.file.Truncate(off); err != nil {
			return 0, nil, c.writeError(e, off, 0, err)
		}
		free <- ch.buf
		e.setReady(off)
	}
	if err := c.ctx.Err(); err != nil {
		return 0, nil, errors.New("image cache closed during decompression")
	}
	// Hash what the decoder did not read (nothing, for a well-formed file).
	if _, err := io.Copy(fh, io.NewSectionReader(f, base+cnt.n, e.src.compressedEnd(f)-base-cnt.n)); err != nil {
		return 0, nil, fmt.Errorf("image %s: %w", e.src.Path, err)
	}
	return off, ih.Sum(nil), nil
}

// checkDeclared fails a stream that decodes to more than its file says.
func (s *Source) checkDeclared(n int64) error {
	if s.Size >= 0 && s.SizeFrom != "block map" && n > s.Size {
		return &DecodeError{What: s.describe(), ImageOffset: s.Size, FileSize: s.FileSize,
			Err: fmt.Errorf("it decodes to more than the %d bytes its %s gives", s.Size, s.SizeFrom)}
	}
	return nil
}

// compressedEnd returns where the compressed data ends in the file: its
// size, or the end of the zip entry.
func (s *Source) compressedEnd(f io.ReaderAt) int64 {
	if s.Format != Zip {
		return s.FileSize
	}
	zf, err := s.zipEntry(f)
	if err != nil {
		return s.FileSize
	}
	off, err := zf.DataOffset()
	if err != nil {
		return s.FileSize
	}
	return off + int64(zf.CompressedSize64)
}

// readChunks reads d into buffers from free and sends them on chunks
// until the stream ends, fails, or ctx is done.
func readChunks(ctx context.Context, d io.Reader, cnt *counter, free chan []byte, chunks chan<- chunk) {
	for {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return
		}
		n, err := fillBuf(d, buf)
		ch := chunk{buf: buf[:n]}
		if err != nil && err != io.EOF {
			ch.err, ch.fileOff = err, cnt.n
		}
		if n > 0 || ch.err != nil {
			select {
			case chunks <- ch:
			case <-ctx.Done():
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// fillBuf reads until buf is full or the stream ends (io.EOF) or fails; a
// decoder's own io.ErrUnexpectedEOF (truncated data) is kept as it is.
func fillBuf(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// writeSparse writes buf at off in f, leaving every whole, aligned
// holeBlock of zeros unwritten: a hole in a new file reads as zeros.
func writeSparse(f *os.File, buf []byte, off int64) error {
	start := -1 // start of the pending run of data
	flush := func(end int) error {
		if start < 0 {
			return nil
		}
		_, err := f.WriteAt(buf[start:end], off+int64(start))
		start = -1
		return err
	}
	for i := 0; i < len(buf); {
		next := min(len(buf), i+holeBlock-int((off+int64(i))%holeBlock))
		if next-i == holeBlock && bytes.Equal(buf[i:next], zeroBlock[:]) {
			if err := flush(i); err != nil {
				return err
			}
		} else if start < 0 {
			start = i
		}
		i = next
	}
	return flush(len(buf))
}
