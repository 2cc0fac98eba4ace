package fakedev

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const mib = 1 << 20

func page(b byte) []byte { return bytes.Repeat([]byte{b}, Page) }

func readPage(t *testing.T, f *Fake, off int64) []byte {
	t.Helper()
	got := make([]byte, Page)
	if _, err := f.ReadAt(got, off); err != nil {
		t.Fatalf("ReadAt(%d) = %v", off, err)
	}
	return got
}

func TestPast(t *testing.T) {
	for _, tc := range []struct {
		past      Past
		high, low []byte // what reading the high and the low address return after both were written
	}{
		{Wrap, page(2), page(2)}, // the high write overwrote the low one
		{Zeros, page(0), page(1)},
		{Ones, page(0xff), page(1)},
		{Stale, stale(9 * mib), page(1)},
	} {
		t.Run(tc.past.String(), func(t *testing.T) {
			f := New(Config{Claimed: 16 * mib, Real: 8 * mib, Past: tc.past})
			f.WriteAt(page(1), 1*mib)
			f.WriteAt(page(2), 9*mib) // 9 MiB mod 8 MiB = 1 MiB
			if got := readPage(t, f, 9*mib); !bytes.Equal(got, tc.high) {
				t.Errorf("read at 9 MiB = %x..., want %x...", got[:8], tc.high[:8])
			}
			if got := readPage(t, f, 1*mib); !bytes.Equal(got, tc.low) {
				t.Errorf("read at 1 MiB = %x..., want %x...", got[:8], tc.low[:8])
			}
		})
	}
}

func TestGenuineKeepsEverything(t *testing.T) {
	f := New(Config{Claimed: 16 * mib})
	f.WriteAt(page(7), 15*mib)
	f.WriteAt(page(8), 1*mib)
	if got := readPage(t, f, 15*mib); got[0] != 7 {
		t.Errorf("read at 15 MiB = %x, want 07", got[0])
	}
	f.ZeroOut(15*mib, Page)
	if got := readPage(t, f, 15*mib); got[0] != 0 {
		t.Errorf("after ZeroOut, read = %x, want 00", got[0])
	}
	if f.Written() != 3*Page || f.Read() != 2*Page {
		t.Errorf("Written, Read = %d, %d, want %d, %d", f.Written(), f.Read(), 3*Page, 2*Page)
	}
}

// TestCacheLies writes past the real capacity: the data reads back while
// the cache holds it, and is gone once more than the cache was written.
func TestCacheLies(t *testing.T) {
	f := New(Config{Claimed: 64 * mib, Real: 8 * mib, Past: Zeros, Cache: 1 * mib})
	f.WriteAt(page(5), 32*mib)
	f.Sync()
	if got := readPage(t, f, 32*mib); got[0] != 5 {
		t.Fatalf("read from the cache = %x, want 05", got[0])
	}
	for off := int64(1 * mib); off < 2*mib; off += Page { // fills the cache: the page is pushed out
		f.WriteAt(page(1), off)
	}
	if got := readPage(t, f, 32*mib); got[0] != 0 {
		t.Errorf("read after the cache was overwhelmed = %x, want 00", got[0])
	}
	if got := readPage(t, f, 1*mib); got[0] != 1 {
		t.Errorf("read of real data = %x, want 01", got[0])
	}
}

func TestUnalignedWrite(t *testing.T) {
	f := New(Config{Claimed: 1 * mib})
	f.WriteAt([]byte("hello"), Page-2)
	got := make([]byte, 5)
	f.ReadAt(got, Page-2)
	if string(got) != "hello" {
		t.Errorf("read across a page = %q, want hello", got)
	}
}

func TestFaults(t *testing.T) {
	f := New(Config{Claimed: 4 * mib, Faults: []Fault{{Region: Region{2 * mib, 2*mib + Page}, Write: true}}})
	if _, err := f.WriteAt(make([]byte, 2*Page), 2*mib-Page); !errors.Is(err, unix.EIO) {
		t.Errorf("write over the fault = %v, want EIO", err)
	}
	if _, err := f.ReadAt(make([]byte, Page), 2*mib); err != nil {
		t.Errorf("read over a write fault = %v, want nil", err)
	}
	if _, err := f.ReadAt(make([]byte, Page), 4*mib); !errors.Is(err, unix.EIO) {
		t.Errorf("read past the end = %v, want EIO", err)
	}
}

func TestHangReleaseAndPull(t *testing.T) {
	f := New(Config{Claimed: 4 * mib, Faults: []Fault{{Region: Region{0, 4 * mib}, Write: true, Hang: true}}})
	done := make(chan error)
	go func() { _, err := f.WriteAt(page(1), 0); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("write returned %v on a hung stick", err)
	case <-time.After(50 * time.Millisecond):
	}
	f.Release()
	if err := <-done; err != nil {
		t.Fatalf("write after Release = %v", err)
	}

	g := New(Config{Claimed: 4 * mib, Faults: []Fault{{Region: Region{0, 4 * mib}, Read: true, Hang: true}}})
	go func() { _, err := g.ReadAt(make([]byte, Page), 0); done <- err }()
	g.Pull()
	if err := <-done; !errors.Is(err, unix.ENODEV) {
		t.Errorf("hung read after Pull = %v, want ENODEV", err)
	}
	if !g.Gone() || !g.Device("/dev/fake").Gone() {
		t.Error("Gone() = false after Pull")
	}
}

func TestSlowAndCacheSpeed(t *testing.T) {
	// 4 MiB/s past a 1 MiB cache: the first MiB is written at once, the
	// next costs about 0.25 s.
	f := New(Config{Claimed: 8 * mib, Cache: 1 * mib, Slow: []Slow{{Region: Region{0, 8 * mib}, WriteBps: 4 * mib}}})
	buf := make([]byte, mib)
	start := time.Now()
	f.WriteAt(buf, 0)
	fast := time.Since(start)
	f.WriteAt(buf, mib)
	slow := time.Since(start) - fast
	if fast > 100*time.Millisecond || slow < 200*time.Millisecond {
		t.Errorf("writes into and past the cache took %v and %v, want < 100ms and >= 200ms", fast, slow)
	}
}
