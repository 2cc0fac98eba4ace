package fsimage

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
)

const (
	// imageChunk is the size of each write: extents are gathered into
	// buffers of this size, so small adjacent extents become one write.
	imageChunk = 4 << 20
	// imageGapFill is the largest don't-care gap between two extents that
	// the writer fills with zeros to keep one write going instead of
	// starting another (cluster slack after small files, mostly).
	imageGapFill = 64 << 10
	// imageBuffers is how many chunks are in flight between the reading
	// and the writing goroutine.
	imageBuffers = 4
)

// WriteImage writes the extents into a new image file at path, sized to
// size bytes; it is WriteImagePlan for a plan of just those extents (they
// are sorted first).
func WriteImage(path string, size int64, extents []Extent) error {
	xs := slices.Clone(extents)
	SortExtents(xs)
	return WriteImagePlan(context.Background(), &Plan{DeviceSize: size, Extents: xs}, path, nil)
}

// WriteImagePlan writes a plan into an image file of plan.DeviceSize bytes
// at path. The file is sparse: Zero extents and don't-care bytes are holes
// (short don't-care gaps between extents may be written as zeros). Data is
// gathered into 4 MiB sequential writes, read and written by two
// goroutines.
//
// Each source file is checked while it is read: its size and modification
// time must still be those of its Entry, and, when Entry.SHA1 is set and
// the plan reads the file from start to end in order, the SHA1 of what was
// read must match. Any mismatch fails with an error naming the file. The
// image is written to path+".part" and renamed to path only on success,
// so path never holds mixed content. progress, when not nil, is called
// with bytes of extents done and in total. Source files are only read.
func WriteImagePlan(ctx context.Context, plan *Plan, path string, progress func(done, total int64)) (err error) {
	if err := plan.Check(); err != nil {
		return fmt.Errorf("write image %s: %w", path, err)
	}
	tmp := path + ".part"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := f.Truncate(plan.DeviceSize); err != nil {
		return err
	}
	if err := copyPlan(ctx, plan, f, progress); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// chunk is a run of bytes to write at off; done is the progress count
// once it is written; segs are the source bytes in it to hash.
type chunk struct {
	off  int64
	buf  []byte
	done int64
	segs []hashSeg
}

// hashSeg is a piece of a chunk read from a source, to be hashed; final
// marks the end of a source whose sum is then compared with its entry.
type hashSeg struct {
	s     *source
	data  []byte
	final bool
}

// copyPlan streams the plan's extents into w through three goroutines:
// this one reads, a second hashes, a third writes.
func copyPlan(ctx context.Context, plan *Plan, w io.WriterAt, progress func(done, total int64)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	free := make(chan []byte, imageBuffers)
	for range imageBuffers {
		free <- make([]byte, imageChunk)
	}
	read := make(chan chunk, imageBuffers)
	hashed := make(chan chunk, imageBuffers)
	herr, werr := make(chan error, 1), make(chan error, 1)
	total := plan.Bytes()
	go func() { // hash
		var err error
		for c := range read {
			if err == nil {
				err = hashChunk(c)
				if err != nil {
					cancel(err)
				}
			}
			hashed <- c
		}
		close(hashed)
		herr <- err
	}()
	go func() { // write
		var err error
		for c := range hashed {
			if err == nil {
				_, err = w.WriteAt(c.buf, c.off)
				if err != nil {
					cancel(err)
				} else if progress != nil {
					progress(c.done, total)
				}
			}
			free <- c.buf[:cap(c.buf)]
		}
		werr <- err
	}()
	r := &planReader{ctx: ctx, free: free, full: read, open: map[*Entry]*source{}}
	rerr := r.run(plan.Extents)
	close(read)
	if err := <-herr; err != nil {
		<-werr
		return err
	}
	if err := <-werr; err != nil {
		return err
	}
	if rerr != nil {
		if cause := context.Cause(ctx); cause != nil && cause != context.Canceled && errors.Is(rerr, context.Canceled) {
			return cause
		}
		return rerr
	}
	if progress != nil {
		progress(total, total)
	}
	return nil
}

// hashChunk hashes the source pieces of a chunk and checks the sums of
// the sources that end in it.
func hashChunk(c chunk) error {
	for _, g := range c.segs {
		g.s.h.Write(g.data)
		if !g.final {
			continue
		}
		if sum := g.s.h.Sum(nil); !bytes.Equal(sum, g.s.e.SHA1[:]) {
			return fmt.Errorf("source %s: SHA1 %x, the manifest says %x: it changed since the manifest was made", g.s.e.Source, sum, g.s.e.SHA1)
		}
	}
	return nil
}

// source is a file being read for the plan. The reader owns every field
// but h, which only the hashing goroutine touches.
type source struct {
	e       *Entry
	f       *os.File
	h       hash.Hash
	next    int64 // source offset the next in-order extent starts at
	inOrder bool  // every extent so far followed the previous one
}

// planReader gathers extents into chunks.
type planReader struct {
	ctx  context.Context
	free chan []byte
	full chan chunk
	buf  []byte // current chunk buffer
	off  int64  // device offset of buf[0]
	n    int    // bytes used in buf
	segs []hashSeg
	done int64 // progress: bytes of extents handled
	open map[*Entry]*source
}

func (r *planReader) run(xs []Extent) (err error) {
	defer func() {
		for e, s := range r.open {
			if cerr := r.finish(e, s); err == nil {
				err = cerr
			}
		}
	}()
	for _, x := range xs {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		switch x.Kind {
		case Zero:
			// A hole in the new sparse file reads as zeros.
		case Bytes:
			r.put(x.Offset, x.Data)
		case FileData:
			if err := r.file(x); err != nil {
				return err
			}
		}
		r.done += x.Length
	}
	r.flush()
	return nil
}

// room makes the current buffer take bytes at device offset off and
// returns the free part of it.
func (r *planReader) room(off int64) []byte {
	if r.buf != nil && r.n > 0 {
		end := r.off + int64(r.n)
		if off == end && r.n < len(r.buf) {
			return r.buf[r.n:]
		}
		if off > end && off-end <= imageGapFill && off-r.off < int64(len(r.buf)) {
			clear(r.buf[r.n : off-r.off])
			r.n = int(off - r.off)
			return r.buf[r.n:]
		}
		r.flush()
	}
	if r.buf == nil {
		r.buf = <-r.free
	}
	r.off, r.n = off, 0
	return r.buf
}

func (r *planReader) flush() {
	if r.buf == nil || r.n == 0 {
		return
	}
	r.full <- chunk{off: r.off, buf: r.buf[:r.n], done: r.done, segs: r.segs}
	r.buf, r.n, r.segs = nil, 0, nil
}

func (r *planReader) put(off int64, data []byte) {
	for len(data) > 0 {
		k := copy(r.room(off), data)
		r.n += k
		off += int64(k)
		data = data[k:]
	}
}

// file copies a FileData extent, hashing what it reads.
func (r *planReader) file(x Extent) error {
	s, err := r.source(x.Entry)
	if err != nil {
		return err
	}
	if x.SourceOffset != s.next {
		s.inOrder = false
	}
	off, src, left := x.Offset, x.SourceOffset, x.Length
	for left > 0 {
		room := r.room(off)
		room = room[:min(int64(len(room)), left)]
		k, err := s.f.ReadAt(room, src)
		if k < len(room) {
			if err == nil || err == io.EOF {
				err = fmt.Errorf("it is shorter than the manifest's %d bytes: it changed since the manifest was made", x.Entry.Size)
			}
			return fmt.Errorf("read %s: %w", x.Entry.Source, err)
		}
		r.n += k
		if s.inOrder && x.Entry.SHA1 != [20]byte{} {
			final := s.next+x.Length == x.Entry.Size && left == int64(k)
			r.segs = append(r.segs, hashSeg{s: s, data: room, final: final})
		}
		off, src, left = off+int64(k), src+int64(k), left-int64(k)
		if err := r.ctx.Err(); err != nil {
			return err
		}
	}
	s.next = x.SourceOffset + x.Length
	if s.next == x.Entry.Size {
		delete(r.open, x.Entry)
		return r.finish(x.Entry, s)
	}
	return nil
}

// source opens an entry's file, checking it is the file the manifest saw.
func (r *planReader) source(e *Entry) (*source, error) {
	if s, ok := r.open[e]; ok {
		return s, nil
	}
	f, err := os.Open(e.Source)
	if err != nil {
		return nil, err
	}
	s := &source{e: e, f: f, h: sha1.New(), inOrder: true}
	if err := unchanged(e, f); err != nil {
		f.Close()
		return nil, err
	}
	r.open[e] = s
	return s, nil
}

// finish closes an entry's file, checking it did not change while it was
// read. (The hashing goroutine compares its SHA1.)
func (r *planReader) finish(e *Entry, s *source) error {
	defer s.f.Close()
	return unchanged(e, s.f)
}

// errChanged is wrapped by errors about sources that differ from their
// manifest entries.
var errChanged = errors.New("it changed since the manifest was made")

func unchanged(e *Entry, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != e.Size || (!e.ModTime.IsZero() && !fi.ModTime().Equal(e.ModTime)) {
		return fmt.Errorf("source %s: size %d modified %s, the manifest says %d modified %s: %w",
			e.Source, fi.Size(), fi.ModTime().Format("2006-01-02 15:04:05.999999999"), e.Size, e.ModTime.Format("2006-01-02 15:04:05.999999999"), errChanged)
	}
	return nil
}
