package fsimage

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

const (
	// imageChunk is the largest metadata write: adjacent Bytes extents are
	// gathered into one buffer of up to this size. It is also the slice of
	// a file copied between two looks at the context.
	imageChunk = 4 << 20
	// imageGapFill is the largest don't-care gap between two Bytes extents
	// that the writer fills with zeros to keep one write going.
	imageGapFill = 64 << 10
	// imageKick is how many written bytes the writer lets pile up in the
	// page cache before it asks the kernel to start writing them out, so
	// the disk works while the copy goes on instead of all at the final
	// fsync.
	imageKick = 8 << 20
	// imageKickAlign: writeback is started only up to a multiple of this,
	// so it never takes the page (or large folio) the copy is filling.
	imageKickAlign = 1 << 20
	// imageCommit is how many written bytes the writer lets pass between
	// two fsyncs, made in the background while the copy goes on, so the
	// disk (or the host under a virtual one) commits the image in steps
	// and the final fsync only waits for the tail.
	imageCommit = 64 << 20
	// imageHashAhead is how many copied files may wait for their SHA1.
	imageHashAhead = 16
)

// copyInMemory makes the image writer copy through a memory buffer, as it
// does where the kernel cannot copy between the two files; tests set it to
// cover that path.
var copyInMemory = false

// WriteImagePlan writes a plan into an image file of plan.DeviceSize bytes
// at path. The file is sparse: Zero extents, don't-care bytes and holes in
// sparse source files stay holes (short don't-care gaps between metadata
// extents may be written as zeros).
//
// File data is copied inside the kernel (copy_file_range, where the two
// filesystems allow it; read and write otherwise). The kernel is asked to
// write the image out every 8 MiB and a background fsync commits it every
// 64 MiB, so the disk works while the copy goes on and the final fsync
// waits only for the tail. Each source file is checked against its Entry:
// its size and modification time when it is opened and when its last byte
// is copied, and, when Entry.SHA1 is set, the SHA1 of the file's bytes as
// the image holds them (read back from the image's page cache, on as many
// goroutines as there are cores). A source that changed while it was
// copied can therefore never pass: what is hashed is what the image holds. Any mismatch fails with an error
// naming the file. The image is written to path+".part" and renamed to
// path only on success, so path never holds mixed content. progress, when
// not nil, is called with bytes of extents done and in total. Source files
// are only read.
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

// copyPlan writes the plan's extents into dst, which must read as zeros
// wherever nothing is written (a new sparse file). This goroutine copies;
// a pool of hashers checks each finished file's SHA1 from dst, and one more
// goroutine makes the background fsyncs.
func copyPlan(ctx context.Context, plan *Plan, dst *os.File, progress func(done, total int64)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan hashJob, imageHashAhead)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			buf := make([]byte, 1<<20)
			for j := range jobs {
				if ctx.Err() != nil {
					continue
				}
				if err := j.check(dst, buf); err != nil {
					cancel(err)
				}
			}
		})
	}
	fl := &flusher{f: dst, wake: make(chan struct{}, 1)}
	wg.Go(func() { fl.run(ctx, cancel) })
	w := &imageWriter{ctx: ctx, dst: dst, jobs: jobs, flusher: fl, open: map[*Entry]*source{},
		total: plan.Bytes(), progress: progress}
	err := w.run(plan.Extents)
	close(jobs)
	close(fl.wake)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && (err == nil || errors.Is(err, context.Canceled)) {
		// A hasher's error, or the caller's cancellation.
		return cause
	}
	if err != nil {
		return err
	}
	if progress != nil {
		progress(w.total, w.total)
	}
	return nil
}

// piece is a run of a source file copied to the image.
type piece struct{ src, dst, n int64 }

// hashJob is a source file copied completely: the SHA1 of its pieces,
// read back from the image in source order, must be the entry's.
type hashJob struct {
	e      *Entry
	pieces []piece
}

func (j hashJob) check(dst *os.File, buf []byte) error {
	slices.SortFunc(j.pieces, func(a, b piece) int { return cmp.Compare(a.src, b.src) })
	h := sha1.New()
	var next int64
	for _, p := range j.pieces {
		if p.src != next {
			return fmt.Errorf("source %s: the plan copies bytes [%d, %d) after %d: %w", j.e.Source, p.src, p.src+p.n, next, errGapInPlan)
		}
		if err := hashRange(h, dst, p.dst, p.n, buf); err != nil {
			return fmt.Errorf("read back %s from the image: %w", j.e.Source, err)
		}
		next += p.n
	}
	if sum := h.Sum(nil); !bytes.Equal(sum, j.e.SHA1[:]) {
		return fmt.Errorf("source %s: SHA1 %x, the manifest says %x: %w", j.e.Source, sum, j.e.SHA1, errChanged)
	}
	return nil
}

// hashRange hashes n bytes of f at off, read through buf. (Reading the
// image through a mapping instead saved the copy but cost as much: the
// kernel then has to unmap each page it writes back.)
func hashRange(h hash.Hash, f *os.File, off, n int64, buf []byte) error {
	for n > 0 {
		k, err := f.ReadAt(buf[:min(int64(len(buf)), n)], off)
		if err != nil {
			return err
		}
		h.Write(buf[:k])
		off, n = off+int64(k), n-int64(k)
	}
	return nil
}

// errGapInPlan is a plan that copies every byte of a file's size but not
// each byte once; Plan.Check's non-overlapping extents make it rare.
var errGapInPlan = errors.New("the plan's pieces of it overlap or leave a gap")

// source is a file being copied into the image.
type source struct {
	e      *Entry
	f      *os.File
	copied int64
	pieces []piece
}

// imageWriter copies extents into the image in offset order.
type imageWriter struct {
	ctx     context.Context
	dst     *os.File
	jobs    chan<- hashJob
	flusher *flusher
	open    map[*Entry]*source

	buf  []byte // pending metadata, to be written at off
	off  int64
	n    int
	copy []byte // buffer for copies the kernel cannot do

	woke     int64 // image offset at the last wake of the flusher
	done     int64 // bytes of extents written
	reported int64
	total    int64
	progress func(done, total int64)
}

func (w *imageWriter) run(xs []Extent) (err error) {
	defer func() {
		for e, s := range w.open {
			// Read only in part: nothing to hash, but it must not
			// have changed either.
			delete(w.open, e)
			if cerr := finish(s); err == nil {
				err = cerr
			}
		}
	}()
	for _, x := range xs {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		switch x.Kind {
		case Zero:
			// A hole in the new sparse file reads as zeros.
		case Bytes:
			if err := w.put(x.Offset, x.Data); err != nil {
				return err
			}
		case FileData:
			if err := w.flush(); err != nil {
				return err
			}
			if err := w.file(x); err != nil {
				return err
			}
			w.wrote(x.End())
		case ReaderData:
			return fmt.Errorf("%s: writing reader data into an image file is not supported", x.What)
		}
		w.done += x.Length
		if w.progress != nil && w.done-w.reported >= imageChunk {
			w.progress(w.done, w.total)
			w.reported = w.done
		}
	}
	return w.flush()
}

// put adds metadata bytes at off to the pending buffer, writing the buffer
// out first when off does not continue it.
func (w *imageWriter) put(off int64, data []byte) error {
	for len(data) > 0 {
		if w.n > 0 {
			end := w.off + int64(w.n)
			if gap := off - end; gap < 0 || gap > imageGapFill || off-w.off >= int64(len(w.buf)) {
				if err := w.flush(); err != nil {
					return err
				}
			} else {
				clear(w.buf[w.n : off-w.off])
				w.n = int(off - w.off)
			}
		}
		if w.buf == nil {
			w.buf = make([]byte, imageChunk)
		}
		if w.n == 0 {
			w.off = off
		}
		k := copy(w.buf[w.n:], data)
		w.n += k
		off += int64(k)
		data = data[k:]
	}
	return nil
}

func (w *imageWriter) flush() error {
	if w.n == 0 {
		return nil
	}
	if _, err := w.dst.WriteAt(w.buf[:w.n], w.off); err != nil {
		return err
	}
	w.wrote(w.off + int64(w.n))
	w.n = 0
	return nil
}

// wrote notes that the image is written up to end, and wakes the flusher
// every imageKick bytes.
func (w *imageWriter) wrote(end int64) {
	w.flusher.written.Store(end)
	if end-w.woke >= imageKick {
		w.woke = end
		select {
		case w.flusher.wake <- struct{}{}:
		default: // it is busy; it will see end when it looks next
		}
	}
}

// flusher starts writeback of the image and commits it (fsync) in the
// background, so that the copier never waits for the disk and the final
// fsync only waits for the tail.
type flusher struct {
	f       *os.File
	written atomic.Int64 // the image is written up to here
	wake    chan struct{}
}

// run starts writeback of what was written since it last looked, and
// fsyncs every imageCommit bytes. When wake is closed (the copy is done)
// it commits the tail while the last files are hashed. An fsync error
// cancels the write.
func (fl *flusher) run(ctx context.Context, fail context.CancelCauseFunc) {
	var kicked, committed int64
	commit := func(end int64) {
		if err := fl.f.Sync(); err != nil {
			fail(err)
		}
		committed = end
	}
	for range fl.wake {
		end := fl.written.Load() &^ (imageKickAlign - 1)
		if end > kicked {
			startWriteback(fl.f, kicked, end-kicked)
			kicked = end
		}
		if end-committed >= imageCommit {
			commit(end)
		}
	}
	if ctx.Err() == nil {
		commit(fl.written.Load())
	}
}

// file copies a FileData extent; after the last byte of its source it
// checks the source and queues its SHA1 check.
func (w *imageWriter) file(x Extent) error {
	s, err := w.source(x.Entry)
	if err != nil {
		return err
	}
	for off := int64(0); off < x.Length; {
		n := min(x.Length-off, imageChunk)
		if err := w.copyRange(s, x.Offset+off, x.SourceOffset+off, n); err != nil {
			return err
		}
		off += n
		if err := w.ctx.Err(); err != nil {
			return err
		}
	}
	s.copied += x.Length
	s.pieces = append(s.pieces, piece{src: x.SourceOffset, dst: x.Offset, n: x.Length})
	if s.copied < x.Entry.Size {
		return nil
	}
	delete(w.open, x.Entry)
	if err := finish(s); err != nil {
		return err
	}
	if x.Entry.SHA1 == [20]byte{} {
		return nil
	}
	select {
	case w.jobs <- hashJob{e: x.Entry, pieces: s.pieces}:
		return nil
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
}

// copyRange copies n bytes of s at srcOff to the image at dstOff. Holes in
// the source are skipped (the image reads zeros there already).
func (w *imageWriter) copyRange(s *source, dstOff, srcOff, n int64) error {
	end := srcOff + n
	for srcOff < end {
		lo, hi := dataAfter(s.f, srcOff, end)
		if lo >= end {
			return nil
		}
		at := dstOff + lo - srcOff
		var k int64
		err := errNoCopyRange
		if !copyInMemory {
			k, err = copyFileRange(w.dst, s.f, at, lo, hi-lo)
		}
		if errors.Is(err, errNoCopyRange) {
			var more int64
			more, err = w.copyBuffered(s.f, at+k, lo+k, hi-lo-k)
			k += more
		}
		if err == nil && k < hi-lo {
			err = fmt.Errorf("it is shorter than the manifest's %d bytes: %w", s.e.Size, errChanged)
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", s.e.Source, err)
		}
		dstOff += hi - srcOff
		srcOff = hi
	}
	return nil
}

// copyBuffered copies through memory, for filesystems the kernel cannot
// copy between; it returns fewer than n bytes only at the end of src.
func (w *imageWriter) copyBuffered(src *os.File, dstOff, srcOff, n int64) (int64, error) {
	if w.copy == nil {
		w.copy = make([]byte, 1<<20)
	}
	var done int64
	for done < n {
		b := w.copy[:min(int64(len(w.copy)), n-done)]
		k, err := src.ReadAt(b, srcOff+done)
		if k > 0 {
			if _, werr := w.dst.WriteAt(b[:k], dstOff+done); werr != nil {
				return done, werr
			}
			done += int64(k)
		}
		if err == io.EOF {
			return done, nil
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// source opens an entry's file, checking it is the file the manifest saw.
func (w *imageWriter) source(e *Entry) (*source, error) {
	if s, ok := w.open[e]; ok {
		return s, nil
	}
	f, _, err := OpenRegular(e.Source)
	if err != nil {
		return nil, err
	}
	if err := unchanged(e, f); err != nil {
		f.Close()
		return nil, err
	}
	s := &source{e: e, f: f}
	w.open[e] = s
	return s, nil
}

// finish closes an entry's file, checking it did not change while it was
// copied. (The hashers compare its SHA1.)
func finish(s *source) error {
	defer s.f.Close()
	return unchanged(s.e, s.f)
}

// errChanged is wrapped by errors about sources that differ from their
// manifest entries.
var errChanged = errors.New("it changed since the manifest was made")

func unchanged(e *Entry, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if why := e.Differs(fi); why != "" {
		return fmt.Errorf("source %s: %s: %w", e.Source, why, errChanged)
	}
	return nil
}
