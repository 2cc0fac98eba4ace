package executor

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestPacerSizes: calls start at one aligned block, at most double while
// they are fast, stop at the limit, and shrink to what takes PaceTarget
// when one was slow — never below one block.
func TestPacerSizes(t *testing.T) {
	p := newPacer(4096, 2<<20)
	want := int64(4096)
	for range 12 {
		if got := p.size(); got != want {
			t.Fatalf("size() = %d, want %d", got, want)
		}
		p.took(want, time.Microsecond)
		want = min(2*want, 2<<20)
	}
	p.took(2<<20, 4*PaceTarget) // a call 4 times too slow
	if got := p.size(); got != 512<<10 {
		t.Errorf("size() after a 2 MiB call took %v = %d, want 512 KiB", 4*PaceTarget, got)
	}
	if p.crawling() {
		t.Errorf("crawling() after a slow call of 2 MiB = true, want false")
	}
	p.took(4096, time.Hour) // a stick that hardly answers
	if got := p.size(); got != 4096 || !p.crawling() {
		t.Errorf("size(), crawling() after a block took an hour = %d, %v; want one block, one call at a time", got, p.crawling())
	}
	p.took(4096, 0)
	if got := p.size(); got != 8192 || p.crawling() {
		t.Errorf("size(), crawling() after a call that took no measurable time = %d, %v; want double, calls at once again", got, p.crawling())
	}
}

// TestPacerDo: do covers the range in order with aligned calls, and stops
// between calls once the context is done.
func TestPacerDo(t *testing.T) {
	p := newPacer(512, 1<<20)
	var next int64 = 1024
	err := p.do(context.Background(), 1024, 1024+100000, func(off, n int64) error {
		if off != next || off%512 != 0 || (n%512 != 0 && off+n != 1024+100000) {
			t.Errorf("call at %d of %d bytes, want it at %d, aligned", off, n, next)
		}
		next = off + n
		return nil
	})
	if err != nil || next != 1024+100000 {
		t.Errorf("do = %v, ended at %d; want nil, at %d", err, next, 1024+100000)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err = newPacer(512, 512).do(ctx, 0, 1<<20, func(off, n int64) error {
		calls++
		cancel()
		return nil
	})
	if calls != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("do after the context ended in the first call: %d calls, %v; want 1 call and context.Canceled", calls, err)
	}
}
