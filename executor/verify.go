package executor

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"sort"

	"github.com/flashpipe/flashpipe/blockdev"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
	"github.com/flashpipe/flashpipe/receipts"
)

// check is one thing Verify compares: an extent, or a file run.
type check struct {
	span
	ext     *fsimage.Extent // nil for a file run
	file    *fsimage.Entry  // nil for an extent
	started bool            // a file run's first bytes were read back
	src     *os.File        // a file run's source, compared byte for byte
	h       hash.Hash       // else the running hash of a file run
	badAt   int64           // a compared file run's first differing byte, or -1
	bad     bool            // a mismatch was already recorded
}

// Verify reads back from dev everything plan wrote and compares it: Bytes
// and Zero extents byte for byte, and data extents that no file run covers
// (an ext4 image's, a disk image's) byte for byte against their source — a
// mismatch records the extent's What in Metadata —, and each file run
// byte for byte against its source when stat shows the version of the
// source the entry records (manifest.Differs: size, modification and
// change time, inode; the version Write checked), else by SHA1 against
// Entry.SHA1 (a mismatch records the file in FailedFiles). A source whose
// stat changes while it is compared fails its file: what it holds is no
// longer what the entry describes. No byte the plan wrote goes unchecked.
// The result is OK only when everything matched. The source is read
// through the page cache; only the stick is read with O_DIRECT.
//
// Verify first calls dev.Flush (fsync, then BLKFLSBUF on a block device),
// and reads with O_DIRECT when blockdev probed it to work, so what it reads
// comes from the stick, not from the page cache. On an image file without
// O_DIRECT support, Flush's fsync plus posix_fadvise(DONTNEED) evicts the
// file's clean pages, so the reads come from the filesystem below; nothing
// stops another process from pulling pages back in meanwhile.
//
// A read error ends the verification: the result (not OK, with what was
// found so far) is returned with the error. Reads are sized to the
// device's speed as Write's are (PaceTarget).
func Verify(ctx context.Context, dev *blockdev.Device, plan *fsimage.Plan, opts Options) (*receipts.Verify, error) {
	opts = opts.withDefaults()
	res := &receipts.Verify{}
	if err := checkPlan(dev, plan); err != nil {
		return res, stepError("verify", dev, err)
	}
	if err := dev.Flush(); err != nil {
		return res, stepError("verify", dev, err)
	}
	checks := verifyChecks(plan)
	spans := make([]span, len(checks))
	var total int64
	for i, c := range checks {
		spans[i] = c.span
		total += c.end - c.off
	}
	align := int64(max(blockdev.Align, dev.LogicalSectorSize))
	windows := planWindows(spans, dev.Size, int64(opts.BufferSize), align)
	m := newMeter("verify", total, opts)
	v := &verifier{ctx: ctx, checks: checks, res: res, src: newSources(nil)}
	defer v.src.closeAll()
	defer v.closeFiles()
	var done int64
	reads := newPacer(align, int64(opts.BufferSize))
	read := func(j *inflight) error {
		return reads.do(ctx, j.w.off, j.w.end, func(off, n int64) error {
			_, err := dev.ReadAt(j.buf[off-j.w.off:off-j.w.off+n], off)
			return err
		})
	}
	compare := func(j *inflight) error {
		res.Bytes += int64(len(j.buf))
		n, err := v.compare(j)
		done += n
		m.report(done, false)
		return err
	}
	err := runWindows(ctx, windows, opts.BufferSize,
		func(int) bool { return true }, nil, read, compare)
	m.report(done, true)
	res.OK = err == nil && len(res.FailedFiles) == 0 && len(res.Metadata) == 0
	return res, stepError("verify", dev, err)
}

// verifyChecks lists, by offset, the file runs and every extent no file
// run covers: Bytes, Zero and data extents alike.
func verifyChecks(plan *fsimage.Plan) []*check {
	var cs []*check
	inRun := map[*fsimage.Entry]bool{}
	for _, r := range plan.Files {
		inRun[r.Entry] = true
		if r.Entry.Size > 0 {
			cs = append(cs, &check{span: span{r.Offset, r.Offset + r.Entry.Size}, file: r.Entry, badAt: -1})
		}
	}
	for i := range plan.Extents {
		e := &plan.Extents[i]
		if e.Kind == fsimage.FileData && inRun[e.Entry] {
			continue
		}
		cs = append(cs, &check{span: span{e.Offset, e.End()}, ext: e})
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].off < cs[j].off })
	return cs
}

// verifier compares windows with the checks that overlap them.
type verifier struct {
	ctx    context.Context
	checks []*check
	next   int
	res    *receipts.Verify
	src    *sources // FileData extents' sources, read to compare
	want   []byte   // scratch for a data extent's expected bytes
	chunk  []byte   // scratch for a file run's source bytes
}

// compare checks one window and returns how many checked bytes it held.
func (v *verifier) compare(j *inflight) (int64, error) {
	for v.next < len(v.checks) && v.checks[v.next].end <= j.w.off {
		v.next++
	}
	var n int64
	for k := v.next; k < len(v.checks) && v.checks[k].off < j.w.end; k++ {
		c := v.checks[k]
		lo, hi := max(c.off, j.w.off), min(c.end, j.w.end)
		if hi <= lo {
			continue
		}
		got := j.buf[lo-j.w.off : hi-j.w.off]
		n += hi - lo
		switch {
		case c.file != nil:
			v.checkFile(c, lo, got)
			if hi == c.end {
				if err := v.finishFile(c); err != nil {
					return n, err
				}
			}
		case c.bad:
		case c.ext.Kind == fsimage.Bytes:
			if !bytes.Equal(got, c.ext.Data[lo-c.off:hi-c.off]) {
				v.mismatch(c)
			}
		case c.ext.Kind == fsimage.Zero:
			if !allZero(got) {
				v.mismatch(c)
			}
		default: // data: compare with its source
			same, err := v.sameAsSource(c.ext, lo, got)
			if err != nil {
				return n, err
			}
			if !same {
				v.mismatch(c)
			}
		}
	}
	return n, nil
}

// sameAsSource reports whether got, read back at device offset lo inside
// data extent e, equals what e's source holds there.
func (v *verifier) sameAsSource(e *fsimage.Extent, lo int64, got []byte) (bool, error) {
	if cap(v.want) < len(got) {
		v.want = make([]byte, len(got))
	}
	want := v.want[:len(got)]
	off := e.SourceOffset + lo - e.Offset
	if e.Kind == fsimage.ReaderData {
		if _, err := e.Reader.ReadAtContext(v.ctx, want, off); err != nil {
			return false, fmt.Errorf("read %s at %d to compare: %w", e.What, off, err)
		}
	} else if err := v.src.readOnly(e.Entry, off, want); err != nil {
		return false, err
	}
	return bytes.Equal(got, want), nil
}

func (v *verifier) mismatch(c *check) {
	c.bad = true
	what := c.ext.What
	if what == "" {
		what = fmt.Sprintf("%s extent at %d", c.ext.Kind, c.ext.Offset)
	}
	v.res.Metadata = append(v.res.Metadata, what)
}

// checkFile checks got, read back at device offset lo inside file run c:
// byte for byte against the source when stat shows the entry's version of
// it, else into the run's hash.
func (v *verifier) checkFile(c *check, lo int64, got []byte) {
	if !c.started {
		c.started = true
		if manifest.HasVersion(c.file) {
			if f, fi, err := fsimage.OpenRegular(c.file.Source); err == nil && manifest.Differs(c.file, fi) == "" {
				c.src = f
			} else if err == nil {
				f.Close()
			}
		}
		if c.src == nil {
			c.h = sha1.New()
		}
	}
	if c.h != nil {
		c.h.Write(got)
		return
	}
	if c.badAt >= 0 {
		return
	}
	if v.chunk == nil {
		v.chunk = make([]byte, compareChunk)
	}
	for off := lo - c.off; len(got) > 0; {
		want := v.chunk[:min(len(got), len(v.chunk))]
		if n, _ := c.src.ReadAt(want, off); n < len(want) {
			c.badAt = off + int64(n) // the source shrank; finishFile says so
			return
		}
		if !bytes.Equal(got[:len(want)], want) {
			i := 0
			for got[i] == want[i] {
				i++
			}
			c.badAt = off + int64(i)
			return
		}
		got, off = got[len(want):], off+int64(len(want))
	}
}

// compareChunk is how much of a source Verify reads at a time to compare:
// small enough to stay in the CPU's cache between the read and the compare,
// and to cost little memory per stick.
const compareChunk = 256 << 10

// finishFile records a file run's outcome once all of it was read back.
func (v *verifier) finishFile(c *check) error {
	v.res.Files++
	if c.src != nil {
		v.finishCompared(c)
		return nil
	}
	want := c.file.SHA1
	if want == ([20]byte{}) {
		var err error
		if want, err = manifest.HashFile(v.ctx, c.file, make([]byte, 1<<20), nil); err != nil {
			v.res.FailedFiles = append(v.res.FailedFiles, receipts.FailedFile{Path: c.file.Path, Err: err.Error()})
			return nil
		}
	}
	var got [20]byte
	c.h.Sum(got[:0])
	if got != want {
		v.res.FailedFiles = append(v.res.FailedFiles, receipts.FailedFile{
			Path: c.file.Path, Want: hex.EncodeToString(want[:]), Got: hex.EncodeToString(got[:])})
	}
	return nil
}

// finishCompared records a file run compared with its source: failed when
// a byte differed or when stat no longer shows the entry's version of the
// source (it changed while it was compared, so what it was compared with
// may not be what the entry describes).
func (v *verifier) finishCompared(c *check) {
	defer func() { c.src.Close(); c.src = nil }()
	fail := receipts.FailedFile{Path: c.file.Path}
	if c.file.SHA1 != ([20]byte{}) {
		fail.Want = hex.EncodeToString(c.file.SHA1[:])
	}
	fi, err := c.src.Stat()
	switch {
	case err != nil:
		fail.Err = "cannot stat the source to compare: " + err.Error()
	case manifest.Differs(c.file, fi) != "":
		fail.Err = "the source changed while it was compared: " + manifest.Differs(c.file, fi)
	case c.badAt >= 0:
		fail.Err = fmt.Sprintf("byte %d differs from the source", c.badAt)
	default:
		return
	}
	v.res.FailedFiles = append(v.res.FailedFiles, fail)
}

// closeFiles closes the sources of file runs a failed read left open.
func (v *verifier) closeFiles() {
	for _, c := range v.checks {
		if c.src != nil {
			c.src.Close()
		}
	}
}

var zeros [64 << 10]byte

func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}
