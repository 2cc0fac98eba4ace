// Package executor carries out a compiled write plan on one stick: Wipe
// clears what was there, Write streams the plan's extents to the device in
// large aligned buffers, Verify reads everything back bypassing the page
// cache and compares it with the plan, and VerifyMount optionally checks
// the tree the kernel sees.
//
// Every function works on a *blockdev.Device, so the same code writes a
// stick and an image file. Errors name the step and the device and wrap the
// cause with %w; IsDeviceGone tells a stick pulled mid-job from other
// failures.
package executor

import (
	"errors"
	"fmt"
	"time"

	"github.com/flashpipe/flashpipe/blockdev"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
	"golang.org/x/sys/unix"
)

// Progress is one progress report of a step.
type Progress struct {
	Step  string        // "wipe", "write" or "verify"
	Done  int64         // bytes done so far
	Total int64         // bytes the step will do
	Rate  float64       // average bytes per second since the step started
	ETA   time.Duration // estimated time left; 0 when unknown
	// Note, when set, is a message for the operator, e.g. that a discard
	// was not supported and zeros were written instead.
	Note string
}

// ProgressFunc receives progress reports. It is called from the goroutine
// running the step, at most about once per Options.ProgressInterval, and once
// at the end; it must not block for long.
type ProgressFunc func(Progress)

// Options tunes Write and Verify. The zero value is usable.
type Options struct {
	// BufferSize is the size of each I/O buffer; default 1 MiB, rounded up
	// to a multiple of blockdev.Align, at least 1 MiB. A step uses four
	// buffers (one being filled or checked, two being written or read, one
	// spare), so memory per stick is 4 × BufferSize, 4 MiB by default: 32
	// sticks at once stay under 256 MB, and at the speed of a USB 3 stick
	// a call of 1 MiB still takes milliseconds, so larger ones gain nothing
	// (docs/performance.md).
	BufferSize int
	// Progress, when set, receives progress reports.
	Progress ProgressFunc
	// ProgressInterval is the minimum time between progress reports;
	// default 1 s.
	ProgressInterval time.Duration
	// MinWriteMBps, when > 0, makes Write fail if the average write rate
	// over RateWindow, measured once RateGrace has passed, falls below this
	// many megabytes (10^6 bytes) per second.
	MinWriteMBps float64
	// RateWindow is the window of the MinWriteMBps check; default 10 s.
	RateWindow time.Duration
	// RateGrace is how long after the start the MinWriteMBps check begins;
	// default 10 s.
	RateGrace time.Duration
	// Hashes, when set, is the cache the entries' SHA1s came from (a
	// station's). Write does not hash a source whose version the cache
	// holds with the entry's SHA1 (manifest.Cache.Holds) again: it checks
	// that stat shows that version (size, modification and change time,
	// inode) before its first read and after its last, so each source byte
	// is hashed once per station rather than once per stick. Without it
	// Write hashes every source as it reads it.
	Hashes *manifest.Cache
}

func (o Options) withDefaults() Options {
	if o.BufferSize <= 0 {
		o.BufferSize = 1 << 20
	}
	o.BufferSize = max(o.BufferSize, 1<<20)
	o.BufferSize = int(alignUp(int64(o.BufferSize), blockdev.Align))
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = time.Second
	}
	if o.RateWindow <= 0 {
		o.RateWindow = 10 * time.Second
	}
	if o.RateGrace <= 0 {
		o.RateGrace = 10 * time.Second
	}
	return o
}

// Error is a failed step on a device.
type Error struct {
	Step   string // "wipe", "write", "verify", "mount check"
	Device string // device path
	// Gone is true when the device had disappeared when the error was seen.
	Gone bool
	Err  error
}

// Error names the step and the device, and says when the device was removed.
func (e *Error) Error() string {
	if e.Gone {
		return fmt.Sprintf("%s %s: device removed: %v", e.Step, e.Device, e.Err)
	}
	return fmt.Sprintf("%s %s: %v", e.Step, e.Device, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// stepError wraps err as an *Error for step on dev, checking whether the
// device is gone. A nil err stays nil; an *Error is not wrapped twice.
func stepError(step string, dev *blockdev.Device, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	gone := errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.ESHUTDOWN)
	if !gone && !errors.Is(err, errCanceled) {
		gone = dev.Gone()
	}
	return &Error{Step: step, Device: dev.Path, Gone: gone, Err: err}
}

var errCanceled = errors.New("canceled")

// IsDeviceGone reports whether err means the device went away during the
// step: ENODEV, ENXIO or ESHUTDOWN anywhere in the chain, or any error
// (typically EIO or a short write) that a step saw while the device's node
// had vanished or reported zero capacity.
func IsDeviceGone(err error) bool {
	var e *Error
	if errors.As(err, &e) && e.Gone {
		return true
	}
	return errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.ESHUTDOWN)
}

// SourceError is a source file that does not match its manifest entry: its
// size, modification time or content changed since the manifest was made, or
// it could not be read.
type SourceError struct {
	Path   string // path inside the target filesystem
	Source string // path on the host
	Reason string
	Err    error // the I/O error, if any
}

// Error names the file inside the target and on the host, and why it failed.
func (e *SourceError) Error() string {
	msg := fmt.Sprintf("source file %s (%s): %s", e.Path, e.Source, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the I/O error, if any.
func (e *SourceError) Unwrap() error { return e.Err }

// alignUp rounds n up to a multiple of a (a power of two).
func alignUp(n, a int64) int64 { return (n + a - 1) &^ (a - 1) }

// alignDown rounds n down to a multiple of a (a power of two).
func alignDown(n, a int64) int64 { return n &^ (a - 1) }

// meter turns byte counts into progress reports at most once per interval.
type meter struct {
	step     string
	total    int64
	fn       ProgressFunc
	interval time.Duration
	start    time.Time
	last     time.Time
	now      func() time.Time
}

func newMeter(step string, total int64, o Options) *meter {
	now := time.Now
	t := now()
	return &meter{step: step, total: total, fn: o.Progress, interval: o.ProgressInterval, start: t, now: now}
}

// report sends progress for done bytes if the interval passed or final.
func (m *meter) report(done int64, final bool) {
	if m.fn == nil {
		return
	}
	t := m.now()
	if !final && t.Sub(m.last) < m.interval {
		return
	}
	m.last = t
	p := Progress{Step: m.step, Done: done, Total: m.total}
	if el := t.Sub(m.start).Seconds(); el > 0 {
		p.Rate = float64(done) / el
	}
	if p.Rate > 0 && done < m.total {
		p.ETA = time.Duration(float64(m.total-done) / p.Rate * float64(time.Second))
	}
	m.fn(p)
}

func (m *meter) note(msg string) {
	if m.fn != nil {
		m.fn(Progress{Step: m.step, Total: m.total, Note: msg})
	}
}
