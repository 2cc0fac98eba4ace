// Package fakedev is an in-process block device that misbehaves on
// purpose, for the tests of the probe and the executor: a stick that
// claims more than it stores (its upper addresses wrap onto lower ones, or
// its writes there vanish and reads return zeros, ones or stale data), a
// write cache that lies until it is overwhelmed, slow regions, I/O errors
// at an offset, and I/O that hangs until released or the stick is pulled.
//
// New returns a Fake; Fake.Device wraps it in a *blockdev.Device (see
// blockdev.OnMedium), so the code under test runs unchanged.
package fakedev

import (
	"container/list"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashpipe/flashpipe/blockdev"
	"golang.org/x/sys/unix"
)

// Page is the granularity the fake stores and caches data in.
const Page = 4096

// Past is what a fake does with the addresses at and above Config.Real.
type Past int

// What happens past the real capacity.
const (
	_ Past = iota
	// Wrap: an address a past Real is address a mod Real: writes there
	// overwrite lower data, reads return it.
	Wrap
	// Zeros: writes vanish, reads return zeros.
	Zeros
	// Ones: writes vanish, reads return 0xff bytes.
	Ones
	// Stale: writes vanish, reads return what was there before (a fixed
	// pseudo-random fill, different at every offset).
	Stale
)

// String names the mode.
func (p Past) String() string {
	switch p {
	case Wrap:
		return "wrap"
	case Zeros:
		return "zeros"
	case Ones:
		return "ones"
	case Stale:
		return "stale"
	}
	return fmt.Sprintf("Past(%d)", int(p))
}

// Region is a byte range [Off, End) of the claimed address space.
type Region struct{ Off, End int64 }

func (r Region) overlaps(off, n int64) bool { return off < r.End && off+n > r.Off }

// Slow makes I/O in a region take time: each read or write that touches
// it sleeps as long as its bytes take at ReadBps or WriteBps (bytes per
// second; 0: no delay). With a cache, a write takes as long as its bytes
// take at CacheBps (0: no time) plus the pages the cache passes on to the
// medium at WriteBps.
type Slow struct {
	Region
	WriteBps, ReadBps, CacheBps float64
}

// Fault makes I/O that touches a region fail with Err (EIO when nil), or
// hang until Release or Pull when Hang is set.
type Fault struct {
	Region
	Read, Write bool // which I/O it hits
	Err         error
	Hang        bool
}

// Config describes a fake stick. Offsets and sizes are multiples of Page.
type Config struct {
	// Claimed is the capacity the stick reports.
	Claimed int64
	// Real is how much it stores; 0 or Claimed: a genuine stick.
	Real int64
	// Past says what happens at and above Real.
	Past Past
	// Cache is the size of a write cache that lies: the last Cache bytes
	// written read back as written, wherever they went, until later writes
	// push them out to the medium (oldest first). A sync does not flush it.
	Cache int64
	// Slow and Faults apply in order; every matching entry applies.
	Slow   []Slow
	Faults []Fault
	// Sector is the logical sector size the device reports; default 512.
	Sector int
	// SyncErr, when set, is what every flush (Sync) fails with: a stick
	// that acknowledged writes and then lost them in write-back reports
	// it only there, with no offset.
	SyncErr error
}

// Fake is an in-process stick. It is safe for concurrent use.
type Fake struct {
	cfg Config

	mu    sync.Mutex
	pages map[int64][]byte // physical page number -> content
	cache *list.List       // of *cached, oldest first
	index map[int64]*list.Element
	gone  bool
	wake  chan struct{} // closed by Release or Pull

	written, read atomic.Int64
}

type cached struct {
	page int64 // logical page number
	data []byte
}

// New returns a fake stick. A Config that makes no sense (sizes not
// multiples of Page, Real > Claimed, a fake without a Past mode) is a
// test bug and panics.
func New(cfg Config) *Fake {
	if cfg.Real == 0 {
		cfg.Real = cfg.Claimed
	}
	if cfg.Sector == 0 {
		cfg.Sector = 512
	}
	switch {
	case cfg.Claimed <= 0 || cfg.Claimed%Page != 0 || cfg.Real%Page != 0 || cfg.Cache%Page != 0:
		panic(fmt.Sprintf("fakedev: sizes must be positive multiples of %d: %+v", Page, cfg))
	case cfg.Real > cfg.Claimed:
		panic("fakedev: Real > Claimed")
	case cfg.Real < cfg.Claimed && cfg.Past == 0:
		panic("fakedev: a fake (Real < Claimed) needs a Past mode")
	}
	return &Fake{cfg: cfg, pages: map[int64][]byte{}, cache: list.New(), index: map[int64]*list.Element{}, wake: make(chan struct{})}
}

// Device wraps f in a *blockdev.Device named path.
func (f *Fake) Device(path string) *blockdev.Device {
	return blockdev.OnMedium(path, f.cfg.Claimed, f.cfg.Sector, f)
}

// Written and Read return how many bytes were written to and read from
// the fake (ZeroOut and Discard count as written).
func (f *Fake) Written() int64 { return f.written.Load() }

// Read returns how many bytes were read from the fake.
func (f *Fake) Read() int64 { return f.read.Load() }

// Release wakes the I/O that hangs on a Fault: it goes on as if nothing
// happened, and the hanging faults are gone.
func (f *Fake) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keep []Fault
	for _, ft := range f.cfg.Faults {
		if !ft.Hang {
			keep = append(keep, ft)
		}
	}
	f.cfg.Faults = keep
	f.wakeAll()
}

// Pull removes the stick: I/O fails with ENODEV from now on, hanging I/O
// included, and Gone reports true.
func (f *Fake) Pull() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gone = true
	f.wakeAll()
}

func (f *Fake) wakeAll() {
	select {
	case <-f.wake:
	default:
		close(f.wake)
	}
}

// Gone reports whether the stick was pulled.
func (f *Fake) Gone() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gone
}

// Close does nothing; the fake keeps its content.
func (f *Fake) Close() error { return nil }

// Sync does nothing: a lying cache keeps what it holds.
func (f *Fake) Sync() error {
	if err := f.check(0, 0, false); err != nil {
		return err
	}
	if f.cfg.SyncErr != nil {
		return fmt.Errorf("flush fake: %w", f.cfg.SyncErr)
	}
	return nil
}

// ReadAt reads len(b) bytes at off.
func (f *Fake) ReadAt(b []byte, off int64) (int, error) {
	if err := f.enter(off, int64(len(b)), false); err != nil {
		return 0, err
	}
	f.mu.Lock()
	for done := 0; done < len(b); {
		at := off + int64(done)
		page, in := at/Page, int(at%Page)
		done += copy(b[done:], f.readPage(page)[in:])
	}
	f.mu.Unlock()
	f.read.Add(int64(len(b)))
	f.sleep(off, int64(len(b)), int64(len(b)), false)
	return len(b), nil
}

// WriteAt writes b at off.
func (f *Fake) WriteAt(b []byte, off int64) (int, error) {
	return len(b), f.write(off, int64(len(b)), b)
}

// ZeroOut writes zeros.
func (f *Fake) ZeroOut(off, n int64) error { return f.write(off, n, nil) }

// Discard writes zeros, as a stick whose discarded blocks read back as
// zeros does.
func (f *Fake) Discard(off, n int64) error { return f.write(off, n, nil) }

// write writes n bytes of b (zeros when b is nil) at off.
func (f *Fake) write(off, n int64, b []byte) error {
	if err := f.enter(off, n, true); err != nil {
		return err
	}
	f.mu.Lock()
	var flushed int64
	for done := int64(0); done < n; {
		at := off + done
		page, in := at/Page, int(at%Page)
		data := append([]byte(nil), f.readPage(page)...)
		c := min(int64(Page-in), n-done)
		if b == nil {
			clear(data[in : in+int(c)])
		} else {
			copy(data[in:], b[done:done+c])
		}
		flushed += f.writePage(page, data)
		done += c
	}
	f.mu.Unlock()
	f.written.Add(n)
	if f.cfg.Cache == 0 {
		f.sleep(off, n, n, true)
		return nil
	}
	f.sleep(off, n, flushed, true)
	f.sleepCache(off, n)
	return nil
}

// enter checks the range, the faults and the hangs an I/O meets before it
// starts.
func (f *Fake) enter(off, n int64, write bool) error {
	for {
		if err := f.check(off, n, write); err != nil {
			return err
		}
		f.mu.Lock()
		wake, hang := f.wake, f.hangs(off, n, write)
		f.mu.Unlock()
		if !hang {
			return nil
		}
		<-wake // closed for good: Release clears every hang, Pull fails every I/O
	}
}

// check fails an I/O on a pulled stick, out of range, or in a fault.
func (f *Fake) check(off, n int64, write bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	op := "read"
	if write {
		op = "write"
	}
	if f.gone {
		return fmt.Errorf("%s fake at %d: %w", op, off, unix.ENODEV)
	}
	if off < 0 || off+n > f.cfg.Claimed {
		return fmt.Errorf("%s fake at %d: %w (past the end of the device)", op, off, unix.EIO)
	}
	for _, ft := range f.cfg.Faults {
		if !ft.Hang && ft.overlaps(off, n) && (write && ft.Write || !write && ft.Read) {
			err := ft.Err
			if err == nil {
				err = unix.EIO
			}
			return fmt.Errorf("%s fake at %d: %w", op, max(off, ft.Off), err)
		}
	}
	return nil
}

func (f *Fake) hangs(off, n int64, write bool) bool {
	for _, ft := range f.cfg.Faults {
		if ft.Hang && ft.overlaps(off, n) && (write && ft.Write || !write && ft.Read) {
			return true
		}
	}
	return false
}

// sleep waits as long as the slow regions make an I/O of n bytes at off
// take, of which cost bytes reached the medium.
func (f *Fake) sleep(off, n, cost int64, write bool) {
	var d time.Duration
	for _, s := range f.cfg.Slow {
		bps := s.ReadBps
		if write {
			bps = s.WriteBps
		}
		if bps > 0 && s.overlaps(off, n) {
			d += time.Duration(float64(cost) / bps * float64(time.Second))
		}
	}
	if d > 0 {
		time.Sleep(d)
	}
}

// sleepCache waits as long as n bytes take to enter the cache.
func (f *Fake) sleepCache(off, n int64) {
	for _, s := range f.cfg.Slow {
		if s.CacheBps > 0 && s.overlaps(off, n) {
			time.Sleep(time.Duration(float64(n) / s.CacheBps * float64(time.Second)))
		}
	}
}

// readPage returns logical page p as the stick shows it: from the cache,
// else from the medium. The caller holds mu and must not change it.
func (f *Fake) readPage(p int64) []byte {
	if e, ok := f.index[p]; ok {
		return e.Value.(*cached).data
	}
	return f.medium(p)
}

// writePage stores logical page p, through the cache when there is one,
// and returns how many bytes reached the medium. The caller holds mu.
func (f *Fake) writePage(p int64, data []byte) int64 {
	if f.cfg.Cache == 0 {
		f.store(p, data)
		return Page
	}
	if e, ok := f.index[p]; ok {
		f.cache.Remove(e)
	}
	f.index[p] = f.cache.PushBack(&cached{page: p, data: data})
	var flushed int64
	for int64(f.cache.Len())*Page > f.cfg.Cache {
		c := f.cache.Remove(f.cache.Front()).(*cached)
		delete(f.index, c.page)
		f.store(c.page, c.data)
		flushed += Page
	}
	return flushed
}

// medium reads logical page p from the medium.
func (f *Fake) medium(p int64) []byte {
	off := p * Page
	if off >= f.cfg.Real {
		switch f.cfg.Past {
		case Wrap:
			p = off % f.cfg.Real / Page
		case Zeros:
			return make([]byte, Page)
		case Ones:
			return ones
		case Stale:
			return stale(off)
		}
	}
	if d, ok := f.pages[p]; ok {
		return d
	}
	return make([]byte, Page)
}

// store writes logical page p to the medium.
func (f *Fake) store(p int64, data []byte) {
	off := p * Page
	if off >= f.cfg.Real {
		if f.cfg.Past != Wrap {
			return
		}
		p = off % f.cfg.Real / Page
	}
	f.pages[p] = data
}

var ones = func() []byte {
	b := make([]byte, Page)
	for i := range b {
		b[i] = 0xff
	}
	return b
}()

// stale is the fixed content of a page of a Stale fake: what some earlier
// use left there.
func stale(off int64) []byte {
	b := make([]byte, Page)
	x := uint64(off) ^ 0x5bd1e995
	for i := 0; i < Page; i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(b[i:], x)
	}
	return b
}
