package executor

import (
	"context"
	"errors"
	"sync"
	"time"
)

// PaceTarget is about how long one read, write or zeroing call of a step
// may take. The kernel holds a call to a block device uninterruptibly until
// the device answers, so a stick that slows to a crawl (or stops) keeps
// the calling thread — and the device — for as long as its last call
// takes, whatever the step's timeout says. Each call is therefore sized to
// the device's measured speed: a stick writing 1 MB/s gets calls of about
// half a megabyte; a 1 kB/s stick calls of one sector-aligned block. At
// most ioDepth calls are in flight at once.
const PaceTarget = 500 * time.Millisecond

// pacer sizes the calls of one kind of I/O of a step to the speed the
// previous calls measured. Calls start at one aligned block and at most
// double from one to the next; a call that took longer than PaceTarget
// shrinks the next to what would have taken PaceTarget. When even a call
// of one block is slower than that, calls go one at a time, so that the
// kernel holds one of them at most. It is safe for concurrent use.
type pacer struct {
	mu    sync.Mutex
	next  int64 // bytes of the next call
	crawl bool  // a call of one block took longer than PaceTarget
	align int64
	max   int64
	one   sync.Mutex // held by each call while crawl
}

// newPacer returns a pacer of calls that are multiples of align (a
// power of two) and at most limit bytes.
func newPacer(align, limit int64) *pacer {
	return &pacer{next: align, align: align, max: max(alignDown(limit, align), align)}
}

// size returns how many bytes the next call may carry.
func (p *pacer) size() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next
}

// took records that a call of n bytes took d.
func (p *pacer) took(n int64, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	want := 2 * n
	if d > 0 {
		want = min(want, int64(float64(n)*float64(PaceTarget)/float64(d)))
	}
	p.next = min(max(alignDown(want, p.align), p.align), p.max)
	p.crawl = n <= p.align && d > PaceTarget
}

// crawling reports whether calls go one at a time.
func (p *pacer) crawling() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.crawl
}

// do runs fn over [off, end) in calls sized by the pacer, in order, and
// stops between calls when ctx is done. A call that starts at an aligned
// offset stays aligned; only the last may be shorter than the pacer's
// size.
func (p *pacer) do(ctx context.Context, off, end int64, fn func(off, n int64) error) error {
	for off < end {
		if err := ctx.Err(); err != nil {
			return errors.Join(errCanceled, err)
		}
		n := min(p.size(), end-off)
		solo := p.crawling()
		if solo {
			p.one.Lock()
		}
		start := time.Now()
		err := fn(off, n)
		p.took(n, time.Since(start))
		if solo {
			p.one.Unlock()
		}
		if err != nil {
			return err
		}
		off += n
	}
	return nil
}
