package executor

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestPlanWindows checks on random span lists that windows are aligned,
// ordered, bounded, and cover every span byte exactly once.
func TestPlanWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const align, maxLen = 4096, 1 << 20
	for iter := range 200 {
		size := int64(64<<20 + rng.IntN(4096))
		var spans []span
		for off := int64(rng.IntN(10000)); ; {
			n := int64(1 + rng.IntN(3<<20))
			if off+n > size {
				break
			}
			spans = append(spans, span{off, off + n})
			off += n + int64(rng.IntN(2)*rng.IntN(600<<10))
		}
		ws := planWindows(spans, size, maxLen, align)
		var prev int64
		for i, w := range ws {
			if w.off%align != 0 || (w.end%align != 0 && w.end != size) || w.end-w.off > maxLen || w.off < prev || w.end <= w.off {
				t.Fatalf("iter %d: window %d = %v (previous end %d), want aligned, ordered, non-empty, <= %d", iter, i, w, prev, maxLen)
			}
			prev = w.end
		}
		// Every span byte lies in some window.
		k := 0
		for _, s := range spans {
			for p := s.off; p < s.end; {
				for k < len(ws) && ws[k].end <= p {
					k++
				}
				if k == len(ws) || ws[k].off > p {
					t.Fatalf("iter %d: byte %d of span %v is in no window", iter, p, s)
				}
				p = min(s.end, ws[k].end)
			}
		}
	}
}

func TestRateCheck(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := newRateCheck(Options{MinWriteMBps: 5, RateWindow: 10 * time.Second, RateGrace: 10 * time.Second}, t0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	// 6 MB/s for 25 s passes; a stall afterwards brings the 10 s average
	// below 5 MB/s and fails.
	for s := 1; s <= 25; s++ {
		if err := r.add(at(float64(s)), int64(s)*6e6); err != nil {
			t.Fatalf("add(%d s, 6 MB/s) = %v, want nil", s, err)
		}
	}
	if err := r.add(at(26), 25*6e6); err != nil {
		t.Fatalf("add(26 s) after a 1 s stall = %v, want nil (54 MB over 10 s)", err)
	}
	if err := r.add(at(32), 26*6e6); err == nil {
		t.Errorf("add(32 s) after a 7 s stall = nil, want ErrTooSlow (24 MB over 10 s)")
	}
	// Slow from the start: no failure inside the grace period.
	r = newRateCheck(Options{MinWriteMBps: 5, RateWindow: 10 * time.Second, RateGrace: 10 * time.Second}, t0)
	for s := 1; s < 20; s++ {
		if err := r.add(at(float64(s)), int64(s)*1e6); err != nil {
			t.Fatalf("add(%d s, 1 MB/s) during grace = %v, want nil", s, err)
		}
	}
	if err := r.add(at(20), 20e6); err == nil {
		t.Errorf("add(20 s, 1 MB/s) = nil, want ErrTooSlow")
	}
}
