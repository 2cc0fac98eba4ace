package executor

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	"github.com/flashpipe/flashpipe/blockdev"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
)

// zeroOutMin is the smallest aligned run of a Zero extent that Write hands
// to Device.ZeroOut (BLKZEROOUT, or a punched hole in an image file) instead
// of writing zeros. It is larger than maxGap, so no window crosses one.
const zeroOutMin = 1 << 20

// Stats describes a finished Write.
type Stats struct {
	// Bytes counts the plan's bytes written or zeroed, in device order up
	// to the first failure: the windows whose write completed before it (a
	// window still in flight then is not counted, so it may fall short by a
	// window, never over). After a failed final flush all are counted; the
	// error says the flush failed.
	Bytes    int64
	Written  int64 // bytes passed to write(2), including zero-filled gaps
	Zeroed   int64 // bytes zeroed with Device.ZeroOut
	Files    int   // source files read and checked against the manifest
	Windows  int   // write calls issued
	Duration time.Duration
	Direct   bool // the device was written with O_DIRECT
}

// Write streams plan to dev sequentially: windows of up to BufferSize bytes,
// aligned to 4 KiB, each covering the extents that fall in it (don't-care
// gaps inside a window are written as zeros); large Zero extents become
// BLKZEROOUT on a block device or punched holes in an image file. Each
// window is written (or zeroed) in calls sized to the device's measured
// speed (see PaceTarget), and Write stops between calls once ctx is done. Source
// files are read while the previous window is written, hashed as they are
// read and compared with Entry.SHA1 when it is set — unless Options.Hashes
// holds that SHA1 for the version stat shows, before the first read and
// after the last; a file whose size or modification time changed (or, when
// it is not hashed, its change time or inode), whose content hashes
// differently, or that reads short fails the job with a *SourceError
// naming it. At the end Write fsyncs the device, which also flushes the
// stick's volatile cache.
func Write(ctx context.Context, dev *blockdev.Device, plan *fsimage.Plan, opts Options) (Stats, error) {
	opts = opts.withDefaults()
	start := time.Now()
	st := Stats{Direct: dev.Direct}
	if err := checkPlan(dev, plan); err != nil {
		return st, stepError("write", dev, err)
	}
	align := int64(max(blockdev.Align, dev.LogicalSectorSize))
	windows, zero := writeWindows(plan, dev.Size, int64(opts.BufferSize), align)
	w := &writer{ctx: ctx, dev: dev, plan: plan, zero: zero, src: newSources(opts.Hashes)}
	defer w.src.closeAll()
	m := newMeter("write", plan.Bytes(), opts)
	rate := newRateCheck(opts, start)
	var done int64
	writes, zeroes := newPacer(align, int64(opts.BufferSize)), newPacer(align, zeroChunk)
	doIO := func(j *inflight) error {
		if zero[j.seq] {
			return zeroes.do(ctx, j.w.off, j.w.end, dev.ZeroOut)
		}
		return writes.do(ctx, j.w.off, j.w.end, func(off, n int64) error {
			_, err := dev.WriteAt(j.buf[off-j.w.off:off-j.w.off+n], off)
			return err
		})
	}
	finish := func(j *inflight) error {
		if zero[j.seq] {
			st.Zeroed += j.payload
		} else {
			st.Written += int64(len(j.buf))
			st.Windows++
		}
		done += j.payload
		m.report(done, false)
		return rate.add(time.Now(), done)
	}
	err := runWindows(ctx, windows, opts.BufferSize,
		func(i int) bool { return !zero[i] }, w.fill, doIO, finish)
	if err == nil {
		err = w.src.finishAll()
	}
	if err == nil {
		if err = dev.Sync(); err != nil && !IsDeviceGone(err) && !dev.Gone() {
			err = &FlushError{Sent: st.Written, Err: err}
		}
	}
	st.Bytes, st.Files, st.Duration = done, w.src.files, time.Since(start)
	m.report(done, true)
	return st, stepError("write", dev, err)
}

// checkPlan rejects a plan that does not fit the device it is run on.
func checkPlan(dev *blockdev.Device, plan *fsimage.Plan) error {
	if err := plan.Check(); err != nil {
		return fmt.Errorf("invalid plan: %w", err)
	}
	if plan.DeviceSize != 0 && plan.DeviceSize != dev.Size {
		return fmt.Errorf("plan was made for a device of %d bytes, this one has %d", plan.DeviceSize, dev.Size)
	}
	if n := len(plan.Extents); n > 0 && plan.Extents[n-1].End() > dev.Size {
		return fmt.Errorf("plan ends at %d, past the device's %d bytes", plan.Extents[n-1].End(), dev.Size)
	}
	return nil
}

// writeWindows returns the windows of a plan in device order and which of
// them are ZeroOut ranges rather than buffers to write.
func writeWindows(plan *fsimage.Plan, size, bufSize, align int64) ([]span, []bool) {
	var spans, zeros []span
	for _, e := range plan.Extents {
		if e.Kind == fsimage.Zero {
			lo, hi := alignUp(e.Offset, align), alignDown(e.End(), align)
			if hi-lo >= zeroOutMin {
				if lo > e.Offset {
					spans = append(spans, span{e.Offset, lo})
				}
				zeros = append(zeros, span{lo, hi})
				if e.End() > hi {
					spans = append(spans, span{hi, e.End()})
				}
				continue
			}
		}
		spans = append(spans, span{e.Offset, e.End()})
	}
	wins := planWindows(spans, size, bufSize, align)
	out := make([]span, 0, len(wins)+len(zeros))
	isZero := make([]bool, 0, cap(out))
	for len(wins) > 0 || len(zeros) > 0 {
		if len(zeros) > 0 && (len(wins) == 0 || zeros[0].off < wins[0].off) {
			out, isZero, zeros = append(out, zeros[0]), append(isZero, true), zeros[1:]
			continue
		}
		out, isZero, wins = append(out, wins[0]), append(isZero, false), wins[1:]
	}
	return out, isZero
}

// writer fills windows from the plan; it runs in the pipeline's producer.
type writer struct {
	ctx  context.Context // for ReaderData sources, which may wait
	dev  *blockdev.Device
	plan *fsimage.Plan
	zero []bool
	next int // first extent that may overlap the next window
	src  *sources
}

func (w *writer) fill(j *inflight) error {
	if w.zero[j.seq] {
		j.payload = j.w.end - j.w.off
		return nil
	}
	xs := w.plan.Extents
	for w.next < len(xs) && xs[w.next].End() <= j.w.off {
		w.next++
	}
	// Each byte of the buffer is written once: zeros where the plan has
	// a Zero extent or nothing, the extent's bytes elsewhere.
	pos := j.w.off
	for k := w.next; k < len(xs) && xs[k].Offset < j.w.end; k++ {
		e := &xs[k]
		lo, hi := max(e.Offset, j.w.off), min(e.End(), j.w.end)
		if hi <= lo {
			continue
		}
		clear(j.buf[pos-j.w.off : lo-j.w.off]) // a don't-care gap
		dst := j.buf[lo-j.w.off : hi-j.w.off]
		pos = hi
		switch e.Kind {
		case fsimage.Zero:
			clear(dst)
		case fsimage.Bytes:
			copy(dst, e.Data[lo-e.Offset:])
		case fsimage.FileData:
			if err := w.src.read(e.Entry, e.SourceOffset+lo-e.Offset, dst); err != nil {
				return err
			}
		case fsimage.ReaderData:
			if _, err := e.Reader.ReadAtContext(w.ctx, dst, e.SourceOffset+lo-e.Offset); err != nil {
				return fmt.Errorf("read %s at %d: %w", e.What, e.SourceOffset+lo-e.Offset, err)
			}
		}
		j.payload += hi - lo
	}
	clear(j.buf[pos-j.w.off:])
	// Parts of large Zero extents handed to ZeroOut lie outside every
	// window, so they were not counted above.
	return nil
}

// sources reads and hashes source files in the order the plan needs them.
type sources struct {
	open   map[*fsimage.Entry]*srcFile
	hashes *manifest.Cache // sums taken by reading; nil hashes every file
	files  int
}

func newSources(hashes *manifest.Cache) *sources {
	return &sources{open: map[*fsimage.Entry]*srcFile{}, hashes: hashes}
}

type srcFile struct {
	f       *os.File
	h       hash.Hash // nil when the cache holds the sum of this version
	next    int64     // bytes read so far, in order
	ordered bool      // false once the file was read out of order
	mtime   time.Time
}

func (s *sources) get(e *fsimage.Entry) (*srcFile, error) {
	if sf := s.open[e]; sf != nil {
		return sf, nil
	}
	f, fi, err := fsimage.OpenRegular(e.Source)
	if err != nil {
		return nil, &SourceError{Path: e.Path, Source: e.Source, Reason: "cannot open", Err: err}
	}
	if err := sameAsManifest(e, fi); err != nil {
		f.Close()
		return nil, err
	}
	sf := &srcFile{f: f, ordered: true, mtime: fi.ModTime()}
	if !s.hashes.Holds(e) {
		sf.h = sha1.New()
	} else if why := manifest.Differs(e, fi); why != "" {
		f.Close()
		return nil, &SourceError{Path: e.Path, Source: e.Source, Reason: "changed since it was scanned: " + why}
	}
	s.open[e] = sf
	return sf, nil
}

// sameAsManifest compares a source's size and mtime with its entry.
func sameAsManifest(e *fsimage.Entry, fi os.FileInfo) error {
	if why := e.Differs(fi); why != "" {
		return &SourceError{Path: e.Path, Source: e.Source, Reason: "changed since it was scanned: " + why}
	}
	return nil
}

// read fills dst from e's source at off, hashing in order.
func (s *sources) read(e *fsimage.Entry, off int64, dst []byte) error {
	sf, err := s.get(e)
	if err != nil {
		return err
	}
	n, err := sf.f.ReadAt(dst, off)
	if n < len(dst) {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return &SourceError{Path: e.Path, Source: e.Source,
			Reason: fmt.Sprintf("short read at %d: %d of %d bytes (did the file shrink?)", off, n, len(dst)), Err: err}
	}
	if sf.ordered && off == sf.next {
		if sf.h != nil {
			sf.h.Write(dst)
		}
		sf.next += int64(n)
	} else {
		sf.ordered = false
	}
	if sf.ordered && sf.next == e.Size {
		return s.finish(e, sf)
	}
	return nil
}

// readOnly fills dst from e's source at off, without hashing: verify
// compares extents that no file run covers with their source this way.
func (s *sources) readOnly(e *fsimage.Entry, off int64, dst []byte) error {
	sf, err := s.get(e)
	if err != nil {
		return err
	}
	sf.ordered = false
	if n, err := sf.f.ReadAt(dst, off); n < len(dst) {
		return &SourceError{Path: e.Path, Source: e.Source,
			Reason: fmt.Sprintf("short read at %d: %d of %d bytes (did the file shrink?)", off, n, len(dst)), Err: err}
	}
	return nil
}

// finish checks a fully read source and closes it.
func (s *sources) finish(e *fsimage.Entry, sf *srcFile) error {
	delete(s.open, e)
	defer sf.f.Close()
	s.files++
	if sf.h == nil {
		return unchanged(e, sf.f)
	}
	var got [20]byte
	if sf.ordered {
		sf.h.Sum(got[:0])
	} else {
		// Read out of order (the plan split the file non-sequentially):
		// hash it again from the start.
		h := sha1.New()
		if _, err := io.Copy(h, io.NewSectionReader(sf.f, 0, e.Size)); err != nil {
			return &SourceError{Path: e.Path, Source: e.Source, Reason: "cannot read to hash", Err: err}
		}
		h.Sum(got[:0])
	}
	if e.SHA1 != ([20]byte{}) && !bytes.Equal(got[:], e.SHA1[:]) {
		return &SourceError{Path: e.Path, Source: e.Source,
			Reason: fmt.Sprintf("changed since it was scanned: SHA1 is %s, manifest says %s", hex.EncodeToString(got[:]), hex.EncodeToString(e.SHA1[:]))}
	}
	fi, err := sf.f.Stat()
	if err != nil {
		return &SourceError{Path: e.Path, Source: e.Source, Reason: "cannot stat", Err: err}
	}
	if err := sameAsManifest(e, fi); err != nil {
		return err
	}
	if !fi.ModTime().Equal(sf.mtime) {
		return &SourceError{Path: e.Path, Source: e.Source, Reason: "modified while it was being copied"}
	}
	return nil
}

// unchanged checks, after the last read of a source that was not hashed,
// that stat still shows the version the cache holds the sum of.
func unchanged(e *fsimage.Entry, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return &SourceError{Path: e.Path, Source: e.Source, Reason: "cannot stat", Err: err}
	}
	if why := manifest.Differs(e, fi); why != "" {
		return &SourceError{Path: e.Path, Source: e.Source, Reason: "modified while it was being copied: " + why}
	}
	return nil
}

// finishAll checks files the plan did not read to their end in order.
func (s *sources) finishAll() error {
	for e, sf := range s.open {
		sf.ordered = false
		if err := s.finish(e, sf); err != nil {
			return err
		}
	}
	return nil
}

func (s *sources) closeAll() {
	for e, sf := range s.open {
		sf.f.Close()
		delete(s.open, e)
	}
}

// ErrTooSlow is wrapped by Write's error when Options.MinWriteMBps is not met.
var ErrTooSlow = errors.New("stick too slow")

// rateCheck enforces Options.MinWriteMBps.
type rateCheck struct {
	min     float64 // bytes per second; 0 disables
	window  time.Duration
	from    time.Time // checks start here
	samples []sample
}

type sample struct {
	t    time.Time
	done int64
}

func newRateCheck(o Options, start time.Time) *rateCheck {
	r := &rateCheck{min: o.MinWriteMBps * 1e6, window: o.RateWindow, from: start.Add(o.RateGrace)}
	r.samples = []sample{{start, 0}}
	return r
}

// add records that done bytes were written by t and fails when the rate
// over the last window is below the minimum.
func (r *rateCheck) add(t time.Time, done int64) error {
	if r.min <= 0 {
		return nil
	}
	r.samples = append(r.samples, sample{t, done})
	cut := t.Add(-r.window)
	// Keep the newest sample at or before cut as the window's base.
	i := 0
	for i+1 < len(r.samples) && !r.samples[i+1].t.After(cut) {
		i++
	}
	r.samples = r.samples[i:]
	base := r.samples[0]
	if t.Before(r.from.Add(r.window)) || base.t.After(cut) {
		return nil
	}
	el := t.Sub(base.t).Seconds()
	if got := float64(done-base.done) / el; got < r.min {
		return fmt.Errorf("%w: write rate %.1f MB/s over the last %.0f s is below the minimum of %.1f MB/s (a slow or failing stick)",
			ErrTooSlow, got/1e6, el, r.min/1e6)
	}
	return nil
}

// FlushError is a write that every call of accepted and the stick's flush
// at its end refused: the stick (or the USB stack's write-back in front of
// it) lost some of what it had acknowledged, and does not say where.
type FlushError struct {
	Sent int64 // bytes written before the flush
	Err  error
}

func (e *FlushError) Error() string {
	return fmt.Sprintf("the stick accepted all %d bytes written, then failed to store some of them when its cache was flushed at the end (where is not known): %v", e.Sent, e.Err)
}

func (e *FlushError) Unwrap() error { return e.Err }
