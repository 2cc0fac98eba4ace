// Package probe screens a stick before it is written: how much of what it
// claims it really stores, and how fast it writes and reads once its write
// cache is full. It works as f3probe does: every block it writes carries
// its own offset and a salt drawn for the run, so a block that reads back
// as another one (an address that wraps), as zeros, ones or old data (a
// write that vanished) is told apart from a good one; the write cache is
// sized and pushed out before any read is trusted; positions are drawn at
// random inside evenly spaced strata, so a fake cannot lie on a pattern,
// and each round narrows the boundary between good and bad blocks by the
// number of strata.
//
// Run is destructive, except for the first MiB: it saves it first and
// writes it back last (on every return, cancelled or not), so a stick that
// fails keeps a readable partition table. See docs/config.md (step "probe") for the algorithm's limits.
package probe

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/flashpipe/flashpipe/blockdev"
)

const (
	mib  = 1 << 20
	head = mib // the first MiB: saved first, written back last

	ioSize    = mib     // the largest read or write of the flush area
	chunkSize = 4 * mib // the flush area's writes are timed per chunk
)

// Options tunes Run. The zero value is the station's default.
type Options struct {
	// Salt makes this run's blocks unlike any other run's; 0 draws one.
	Salt uint64
	// MinFlush is the least the probe writes to push its blocks out of the
	// stick's write cache: default 56 MiB (with the points and the first
	// MiB written back, a genuine stick without a cache takes 58 MiB). It writes twice the cache it
	// measures when that is more, up to MaxFlush (default 1 GiB); a fake
	// whose cache holds more than MaxFlush passes (see Result.CacheCapped).
	MinFlush, MaxFlush int64
	// Points is how many strata each round draws a block in: default 64.
	Points int
	// Progress, when set, is told what the probe does now and how many
	// bytes it wrote so far.
	Progress func(phase string, written int64)
}

func (o Options) withDefaults() Options {
	if o.Salt == 0 {
		var b [8]byte
		crand.Read(b[:])
		o.Salt = binary.LittleEndian.Uint64(b[:]) | 1
	}
	if o.MinFlush <= 0 {
		o.MinFlush = 56 * mib
	}
	if o.MaxFlush <= 0 {
		o.MaxFlush = 1 << 30
	}
	if o.Points <= 0 {
		o.Points = 64
	}
	return o
}

// Result is what a probe found.
type Result struct {
	// Claimed is the capacity the stick reports.
	Claimed int64
	// Usable is how many bytes from the start hold what is written to
	// them: Claimed on a genuine stick, within Precision of the truth on a
	// fake one.
	Usable    int64
	Precision int64
	// Fake is true when a block below Claimed did not read back.
	Fake bool
	// Fault says how the lowest bad block failed; AliasOf is the offset it
	// read back as, when it wraps.
	Fault             Fault
	FirstBad, AliasOf int64
	// Scattered is true when a good block was found above a bad one: the
	// stick is not a plain fake but a failing one, and Usable is where the
	// first bad block was found.
	Scattered bool
	// Cache is the write cache the probe measured (bytes written fast, or
	// after which its blocks were pushed out); Flush what it wrote to push
	// its blocks out of it. CacheCapped is true when Flush stopped at
	// Options.MaxFlush before reaching twice the cache.
	Cache, Flush int64
	CacheCapped  bool
	// WriteBps and ReadBps are the sustained rates, in bytes per second,
	// past the cache, with O_DIRECT when the device has it.
	WriteBps, ReadBps float64
	Direct            bool
	// Written and Read count the bytes the probe wrote and read; Rounds
	// how many times it wrote blocks and pushed them out of the cache.
	Written, Read int64
	Rounds        int
	Duration      time.Duration
}

// prober is one run.
type prober struct {
	ctx   context.Context
	dev   *blockdev.Device
	opts  Options
	rng   *rand.Rand
	res   *Result
	buf   []byte // ioSize, aligned
	blk   []byte // Block, aligned
	want  []byte // Block
	start time.Time
	// next is the size of the next read (0) and write (1) of the flush
	// area, paced as the executor's calls are (callTarget).
	next [2]int64
	// headWritten is how much of the first MiB the flush has written: all
	// of it unless the probe stopped early (on a crawling stick, writing
	// back more than was written could take longer than the probe did).
	headWritten int
}

// callTarget is about how long one read or write of the flush area may
// take: the kernel holds a call to a crawling stick until it is done, out
// of reach of the probe's context, so calls are sized to the speed the
// last one measured (as executor.PaceTarget explains).
const callTarget = 500 * time.Millisecond

// callSize returns how many bytes the next read (0) or write (1) of the
// flush area may carry.
func (p *prober) callSize(op int) int64 {
	if p.next[op] == 0 {
		return Block // the first call measures; the next ones at most double
	}
	return p.next[op]
}

// took sizes the next call of op after one of n bytes took d: what would
// take callTarget, at most twice n, from a block to ioSize.
func (p *prober) took(op int, n int64, d time.Duration) {
	want := 2 * n
	if d > 0 {
		want = min(want, int64(float64(n)*float64(callTarget)/float64(d)))
	}
	p.next[op] = min(max(want&^(Block-1), Block), ioSize)
}

// Run probes dev. A stick that fails I/O outside the probe blocks (the
// first MiB, the flush area) or is pulled ends the probe with an error; a
// probe block that fails I/O counts as a bad block. On any return after
// the first MiB was read, it has been written back.
func Run(ctx context.Context, dev *blockdev.Device, opts Options) (res *Result, err error) {
	start := time.Now()
	opts = opts.withDefaults()
	p := &prober{ctx: ctx, dev: dev, opts: opts, start: start, rng: rand.New(rand.NewPCG(opts.Salt, opts.Salt>>1|1)),
		res: &Result{Claimed: dev.Size, Usable: dev.Size, Direct: dev.Direct, FirstBad: -1},
		buf: blockdev.AlignedBuffer(ioSize), blk: blockdev.AlignedBuffer(Block), want: make([]byte, Block)}
	defer func() { p.res.Duration = time.Since(start) }()
	end := dev.Size &^ (Block - 1)
	if end < 8*mib {
		return p.res, fmt.Errorf("probe %s: the stick has %d bytes; the probe needs at least 8 MiB", dev.Path, dev.Size)
	}
	saved := blockdev.AlignedBuffer(head)
	if err := p.read(saved, 0); err != nil {
		return p.res, fmt.Errorf("probe %s: save the first MiB: %w", dev.Path, err)
	}
	defer func() {
		if rerr := p.restore(saved); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	return p.res, p.run(end)
}

// run does the rounds. The first writes points all over the stick above
// the largest flush area, sizes the cache while writing the flush area
// from the start of the stick, reads both back, and scans for a wrap; each
// next round samples the interval between the highest good and the lowest
// bad block found so far and pushes it out of the cache with the flush
// area again, until the interval is within the precision.
func (p *prober) run(end int64) error {
	res := p.res
	res.Precision = max(mib, end/1000)
	maxFlush := min(p.opts.MaxFlush, end/2) &^ (ioSize - 1)
	points := append(p.strata(maxFlush, end), end-Block)
	if err := p.writePoints(points); err != nil {
		return err
	}
	if err := p.flushFirst(points, maxFlush); err != nil {
		return err
	}
	bad, err := p.readPoints(points)
	if err != nil {
		return err
	}
	badFlush, goodFlush, err := p.readFlush()
	if err != nil {
		return err
	}
	floor := res.Flush - Block // the highest block known good
	if badFlush >= 0 {
		bad[badFlush], floor = true, goodFlush
	}
	lo, hi := p.bounds(bad, floor, end)
	if badFlush < 0 {
		wrap, err := p.scanWrap(hi)
		if err != nil {
			return err
		}
		if wrap >= 0 {
			bad[wrap] = true
			lo, hi = p.bounds(bad, floor, hi)
		}
	}
	for hi < end && hi-lo > res.Precision {
		points := p.strata(lo+Block, hi)
		if len(points) == 0 {
			break
		}
		if err := p.writePoints(points); err != nil {
			return err
		}
		if err := p.writeFlush(res.Flush); err != nil {
			return err
		}
		more, err := p.readPoints(points)
		if err != nil {
			return err
		}
		for off, b := range more {
			bad[off] = b
		}
		lo, hi = p.bounds(bad, floor, hi)
	}
	if hi < end {
		res.Fake, res.Usable = true, lo+Block
	}
	// Above a wrap, blocks whose alias nothing overwrote read back right.
	res.Scattered = res.Scattered && res.Fault != Aliased
	return nil
}

// scanWrap looks for addresses that wrap onto the flush area, reading one
// block every half flush-area length below hi: whatever the real capacity
// N of a stick that wraps at N, exactly one of these blocks lands in the
// flush area's first half when N is below hi, and reads back as the flush
// block it aliases. The first half, because the flush area is at least
// twice the cache the probe measured: what the stick's cache still holds
// of the flush is in the second half, and the medium there may hold older
// data. It returns that block's offset, or -1. It writes nothing.
func (p *prober) scanWrap(hi int64) (int64, error) {
	p.progress("looking for a wrap")
	stride := p.res.Flush / 2 &^ (Block - 1)
	r := p.rng.Int64N(stride/Block) * Block
	for at := stride + r; at < hi; at += stride {
		if err := p.ctx.Err(); err != nil {
			return -1, p.canceled(err)
		}
		if err := p.read(p.blk, at); err != nil {
			if p.dev.Gone() {
				return -1, err
			}
			continue
		}
		fillBlock(p.want, p.opts.Salt, at)
		if fault, alias := check(p.blk, p.want, p.opts.Salt, at); fault == Aliased && alias < p.res.Flush {
			if p.res.FirstBad < 0 || at < p.res.FirstBad {
				p.res.FirstBad, p.res.Fault, p.res.AliasOf = at, fault, alias
			}
			return at, nil
		}
	}
	return -1, nil
}

// strata draws one block at random in each of opts.Points equal parts of
// [lo, hi), fewer when the parts would be smaller than a block.
func (p *prober) strata(lo, hi int64) []int64 {
	lo = (lo + Block - 1) &^ (Block - 1)
	blocks := (hi - lo) / Block
	n := min(int64(p.opts.Points), blocks)
	var pts []int64
	for i := range n {
		a, b := lo/Block+blocks*i/n, lo/Block+blocks*(i+1)/n
		if b > a {
			pts = append(pts, (a+p.rng.Int64N(b-a))*Block)
		}
	}
	return pts
}

// bounds returns the highest good offset (at least floor) below the
// lowest bad one, and the lowest bad one (hi when none is below it), and
// notes good blocks above a bad one.
func (p *prober) bounds(bad map[int64]bool, floor, hi int64) (int64, int64) {
	lo := floor
	offs := make([]int64, 0, len(bad))
	for off := range bad {
		offs = append(offs, off)
	}
	slices.Sort(offs)
	first := hi
	for _, off := range offs {
		if bad[off] && off < first {
			first = off
		}
	}
	for _, off := range offs {
		if !bad[off] && off < first {
			lo = max(lo, off)
		}
		if !bad[off] && off > first {
			p.res.Scattered = true
		}
	}
	return lo, first
}

// writePoints writes a probe block at each offset, highest first: a block
// whose address wraps onto a lower point is then overwritten by that
// point's own block, so the lower, good point reads back right. A block
// that fails to write is a bad block, found when it is read.
func (p *prober) writePoints(points []int64) error {
	p.res.Rounds++
	p.progress("sampling")
	sorted := slices.Clone(points)
	slices.Sort(sorted)
	for i := len(sorted) - 1; i >= 0; i-- {
		if err := p.ctx.Err(); err != nil {
			return p.canceled(err)
		}
		fillBlock(p.blk, p.opts.Salt, sorted[i])
		if err := p.write(p.blk, sorted[i]); err != nil && p.dev.Gone() {
			return err
		}
	}
	return nil
}

// readPoints reads each point back and returns which are bad. The lowest
// bad one so far sets the result's Fault.
func (p *prober) readPoints(points []int64) (map[int64]bool, error) {
	bad := map[int64]bool{}
	for _, off := range points {
		if err := p.ctx.Err(); err != nil {
			return nil, p.canceled(err)
		}
		f, alias, err := p.checkAt(off)
		if err != nil {
			return nil, err
		}
		bad[off] = f != 0
		if f != 0 && (p.res.FirstBad < 0 || off < p.res.FirstBad) {
			p.res.FirstBad, p.res.Fault, p.res.AliasOf = off, f, alias
		}
	}
	return bad, nil
}

// checkAt reads the block at off and checks it. A read error is a
// ReadError fault unless the stick is gone.
func (p *prober) checkAt(off int64) (Fault, int64, error) {
	if err := p.read(p.blk, off); err != nil {
		if p.dev.Gone() {
			return 0, 0, err
		}
		return ReadError, 0, nil
	}
	fillBlock(p.want, p.opts.Salt, off)
	f, alias := check(p.blk, p.want, p.opts.Salt, off)
	return f, alias, nil
}

func (p *prober) progress(phase string) {
	if p.opts.Progress != nil {
		p.opts.Progress(phase, p.res.Written)
	}
}

func (p *prober) canceled(err error) error {
	return fmt.Errorf("probe %s: stopped after %s: %w", p.dev.Path, time.Since(p.start).Round(time.Millisecond), err)
}

func (p *prober) read(b []byte, off int64) error {
	_, err := p.dev.ReadAt(b, off)
	p.res.Read += int64(len(b))
	return err
}

func (p *prober) write(b []byte, off int64) error {
	_, err := p.dev.WriteAt(b, off)
	p.res.Written += int64(len(b))
	return err
}

// restore writes the first MiB back, as far as the flush wrote it, and
// syncs, whatever the context says. (A point whose address wraps onto the
// first MiB is written before the flush, which overwrites it there.)
func (p *prober) restore(saved []byte) error {
	if p.headWritten == 0 {
		return nil
	}
	if err := p.write(saved[:p.headWritten], 0); err != nil {
		return fmt.Errorf("probe %s: write the first MiB back: %w", p.dev.Path, err)
	}
	if err := p.dev.Sync(); err != nil {
		return fmt.Errorf("probe %s: %w", p.dev.Path, err)
	}
	return nil
}

// watched is how many of the highest points the flush re-reads after each
// chunk to see when the cache lets go of them.
const watched = 16

// flushFirst writes the flush area up from the end of the first MiB, in
// chunks, until it has written at least MinFlush and twice the cache it
// measures, or maxFlush. The cache is the larger of two measures: the
// bytes written before the rate fell to the sustained rate (a cache that
// is faster than the flash behind it), and the bytes written when the
// first of the highest points that read back right before the flush
// stopped doing so (a cache that lies about where it puts data). The
// sustained write rate is timed past the cache.
func (p *prober) flushFirst(points []int64, maxFlush int64) error {
	p.progress("sizing the write cache")
	sorted := slices.Clone(points)
	slices.Sort(sorted)
	var watch []int64
	for _, off := range sorted[max(0, len(sorted)-watched):] {
		if f, _, err := p.checkAt(off); err != nil {
			return err
		} else if f == 0 {
			watch = append(watch, off)
		}
	}
	var chunks []chunk
	var written, flip int64
	for written < maxFlush {
		n := min(chunkSize, maxFlush-written)
		d, err := p.writeRange(written, n)
		if err != nil {
			return err
		}
		chunks = append(chunks, chunk{n, d})
		written += n
		if flip == 0 {
			for _, off := range watch {
				f, alias, err := p.checkAt(off)
				if err != nil {
					return err
				}
				if f != 0 && !(f == Aliased && alias < written) { // an alias of the flush area is a wrap, not the cache
					flip = written
					break
				}
			}
		}
		knee, _ := sustained(chunks)
		p.res.Cache = max(knee, flip)
		if written >= p.opts.MinFlush && written >= 2*p.res.Cache {
			break
		}
	}
	p.res.Flush = written
	p.res.CacheCapped = written < 2*p.res.Cache
	_, p.res.WriteBps = sustained(chunks)
	return p.sync()
}

// chunk is one timed part of the flush: n bytes written in d.
type chunk struct {
	n int64
	d time.Duration
}

// sustained returns where a cache faster than the flash behind it ended
// and the rate of the chunks after it. The end is the chunk boundary,
// with at least two chunks on each side, where the chunks before it were
// written fastest compared with those after it, and more than twice as
// fast; averages over several chunks keep a single slow or fast chunk
// from looking like a cache.
func sustained(chunks []chunk) (knee int64, bps float64) {
	rate := func(cs []chunk) float64 {
		var n int64
		var d time.Duration
		for _, c := range cs {
			n, d = n+c.n, d+c.d
		}
		return float64(n) / max(d.Seconds(), 1e-9)
	}
	from, best := 0, 2.0
	var off int64
	for k := 1; k < len(chunks); k++ {
		off += chunks[k-1].n
		if k < 2 || len(chunks)-k < 2 {
			continue
		}
		if ratio := rate(chunks[:k]) / rate(chunks[k:]); ratio > best {
			knee, from, best = off, k, ratio
		}
	}
	return knee, rate(chunks[from:])
}

// writeFlush writes the flush area again, to push a round's points out of
// the cache.
func (p *prober) writeFlush(n int64) error {
	p.progress("pushing the write cache out")
	if _, err := p.writeRange(0, n); err != nil {
		return err
	}
	return p.sync()
}

// writeRange writes probe blocks over [off, off+n) in writes of up to
// ioSize, paced (callTarget), and returns how long the writes took. An I/O error here fails the probe.
func (p *prober) writeRange(off, n int64) (time.Duration, error) {
	var d time.Duration
	for at := off; at < off+n; {
		if err := p.ctx.Err(); err != nil {
			return d, p.canceled(err)
		}
		b := p.buf[:min(p.callSize(1), off+n-at)]
		fill(b, p.opts.Salt, at)
		t := time.Now()
		err := p.write(b, at)
		took := time.Since(t)
		d += took
		p.took(1, int64(len(b)), took)
		if at < head {
			p.headWritten = max(p.headWritten, int(min(head, at+int64(len(b)))))
		}
		if err != nil {
			return d, fmt.Errorf("probe %s: %w", p.dev.Path, err)
		}
		at += int64(len(b))
	}
	return d, nil
}

// readFlush reads the flush area back, checking every block and timing
// the reads (the area's start left the cache long ago). It returns the
// first bad block's offset and the last good one's before it, or -1.
func (p *prober) readFlush() (int64, int64, error) {
	p.progress("reading back")
	var d time.Duration
	end := p.res.Flush
	for at := int64(0); at < end; {
		if err := p.ctx.Err(); err != nil {
			return -1, -1, p.canceled(err)
		}
		b := p.buf[:min(p.callSize(0), end-at)]
		t := time.Now()
		err := p.read(b, at)
		took := time.Since(t)
		d += took
		p.took(0, int64(len(b)), took)
		if err != nil {
			return -1, -1, fmt.Errorf("probe %s: %w", p.dev.Path, err)
		}
		for i := 0; i < len(b); i += Block {
			fillBlock(p.want, p.opts.Salt, at+int64(i))
			if f, alias := check(b[i:i+Block], p.want, p.opts.Salt, at+int64(i)); f != 0 {
				p.res.FirstBad, p.res.Fault, p.res.AliasOf = at+int64(i), f, alias
				p.res.ReadBps = float64(at+int64(i)) / max(d.Seconds(), 1e-9)
				return at + int64(i), at + int64(i) - Block, nil
			}
		}
		at += int64(len(b))
	}
	p.res.ReadBps = float64(p.res.Flush) / max(d.Seconds(), 1e-9)
	return -1, -1, nil
}

func (p *prober) sync() error {
	if err := p.dev.Sync(); err != nil {
		return fmt.Errorf("probe %s: %w", p.dev.Path, err)
	}
	return nil
}
