package executor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/fakedev"
	"golang.org/x/sys/unix"
)

// The executor on sticks that misbehave (blockdev/fakedev): each failure
// fails the step with an *Error that names the stage, the device and the
// offset, and says whether the stick went away.

func TestWriteIOErrorMidWrite(t *testing.T) {
	const bad = 7 << 20 // inside the 3 MiB file at 6 MiB
	f := fakedev.New(fakedev.Config{Claimed: devSize, Faults: []fakedev.Fault{{Region: fakedev.Region{Off: bad, End: bad + 4096}, Write: true}}})
	dev := f.Device("/dev/fake-eio")
	st, err := Write(context.Background(), dev, newTestPlan(t, devSize, 512).plan, Options{BufferSize: 1 << 20})
	var e *Error
	if !errors.As(err, &e) || e.Step != "write" || e.Gone || !errors.Is(err, unix.EIO) {
		t.Fatalf("Write over a bad block = %v, want a write *Error wrapping EIO, device not gone", err)
	}
	if !strings.Contains(err.Error(), "/dev/fake-eio") || !strings.Contains(err.Error(), " at 7340032") {
		t.Errorf("Write error %q does not name the device and the offset 7340032", err)
	}
	if st.Bytes <= 0 || st.Bytes > bad {
		t.Errorf("Stats.Bytes = %d, want more than 0 and at most the bad offset %d", st.Bytes, bad)
	}
}

func TestVerifyIOErrorMidVerify(t *testing.T) {
	const bad = 6 << 20
	f := fakedev.New(fakedev.Config{Claimed: devSize, Faults: []fakedev.Fault{{Region: fakedev.Region{Off: bad, End: bad + 4096}, Read: true}}})
	dev := f.Device("/dev/fake-eio")
	tp := newTestPlan(t, devSize, 512)
	if _, err := Write(context.Background(), dev, tp.plan, Options{}); err != nil {
		t.Fatalf("Write = %v (the fault only hits reads)", err)
	}
	res, err := Verify(context.Background(), dev, tp.plan, Options{BufferSize: 1 << 20})
	var e *Error
	if !errors.As(err, &e) || e.Step != "verify" || !errors.Is(err, unix.EIO) || res.OK {
		t.Errorf("Verify over an unreadable block = %+v, %v; want not OK and a verify *Error wrapping EIO", res, err)
	}
}

// TestVerifyAndFakeCapacity writes a plan that ends at the last sector
// onto sticks that store half of what they claim: verification catches
// the fakes whose writes vanish — unless a write cache still holds the end
// of the plan when verify reads it back — and never one that wraps, as no
// part of the plan lands where the gpt backup aliases. That is why sticks
// are probed before they are written (package probe).
func TestVerifyAndFakeCapacity(t *testing.T) {
	for _, past := range []fakedev.Past{fakedev.Wrap, fakedev.Zeros, fakedev.Ones, fakedev.Stale} {
		for _, cache := range []int64{0, 4 << 20} {
			f := fakedev.New(fakedev.Config{Claimed: devSize, Real: devSize / 2, Past: past, Cache: cache})
			dev := f.Device("/dev/fake-" + past.String())
			tp := newTestPlan(t, devSize, 512)
			if _, err := Write(context.Background(), dev, tp.plan, Options{}); err != nil {
				t.Fatalf("%v: Write = %v, want the fake to take it", past, err)
			}
			res, err := Verify(context.Background(), dev, tp.plan, Options{})
			fooled := cache > 0 || past == fakedev.Wrap // the last 4 MiB written include the gpt backup
			if err != nil || res.OK != fooled || !fooled && strings.Join(res.Metadata, ",") != "gpt backup" {
				t.Errorf("%v with a %d-byte cache: Verify = %+v, %v; want OK = %v, else the gpt backup (past the real capacity) differing", past, cache, res, err, fooled)
			}
		}
	}
}

// TestWriteHungThenPulled: a write that hangs in the "kernel" until the
// stick is pulled ends with IsDeviceGone.
func TestWriteHungThenPulled(t *testing.T) {
	f := fakedev.New(fakedev.Config{Claimed: devSize, Faults: []fakedev.Fault{{Region: fakedev.Region{Off: 8 << 20, End: devSize}, Write: true, Hang: true}}})
	dev := f.Device("/dev/fake-hung")
	errc := make(chan error, 1)
	go func() {
		_, err := Write(context.Background(), dev, newTestPlan(t, devSize, 512).plan, Options{BufferSize: 1 << 20})
		errc <- err
	}()
	select {
	case err := <-errc:
		t.Fatalf("Write on a hung stick returned %v before the stick was pulled", err)
	case <-time.After(100 * time.Millisecond):
	}
	f.Pull()
	if err := <-errc; !IsDeviceGone(err) || !errors.Is(err, unix.ENODEV) {
		t.Errorf("Write after the hung stick was pulled = %v, want IsDeviceGone", err)
	}
}

// TestWipeStopsAtUsable: on a fake stick a probe shrank to its usable
// part, zero and discard wipes write that part only — not the claimed
// size, whose upper part wraps onto the start or vanishes and would take
// claimed/usable times as long — and a quick wipe (which follows a
// discard) zeroes the first and last MiB of that part.
func TestWipeStopsAtUsable(t *testing.T) {
	const usable = devSize / 4
	for mode, want := range map[string]int64{WipeZero: usable, WipeDiscard: usable + 2<<20, WipeQuick: 2 << 20} {
		f := fakedev.New(fakedev.Config{Claimed: devSize, Real: usable, Past: fakedev.Wrap})
		if err := Wipe(context.Background(), f.Device("/dev/fake-wrap"), mode, usable, nil); err != nil {
			t.Fatalf("Wipe(%s, usable %d) = %v", mode, usable, err)
		}
		if w := f.Written(); w != want {
			t.Errorf("Wipe(%s) on a stick with %d usable of %d bytes wrote %d bytes, want %d", mode, usable, int64(devSize), w, want)
		}
	}
	f := fakedev.New(fakedev.Config{Claimed: devSize})
	if err := Wipe(context.Background(), f.Device("/dev/fake-genuine"), WipeZero, 0, nil); err != nil || f.Written() != devSize {
		t.Errorf("Wipe(zero) on a genuine stick = %v after %d bytes, want all %d", err, f.Written(), int64(devSize))
	}
}

// TestWriteErrorAtFlush: a stick that accepts every write and then fails
// the flush at the end (a lost write-back, reported without an offset)
// fails the write with an error saying so — that the bytes were sent and
// some did not reach the medium — and not as a pulled stick.
func TestWriteErrorAtFlush(t *testing.T) {
	f := fakedev.New(fakedev.Config{Claimed: devSize, SyncErr: unix.EIO})
	dev := f.Device("/dev/fake-flush")
	_, err := Write(context.Background(), dev, newTestPlan(t, devSize, 512).plan, Options{})
	var e *Error
	var fe *FlushError
	if !errors.As(err, &e) || e.Step != "write" || e.Gone || !errors.As(err, &fe) || !errors.Is(err, unix.EIO) {
		t.Fatalf("Write to a stick whose flush fails = %v, want a write *Error holding a *FlushError wrapping EIO, not gone", err)
	}
	if fe.Sent <= 0 || !strings.Contains(err.Error(), "failed to store some of them") {
		t.Errorf("FlushError = %+v (%v), want the bytes sent and what it means", fe, err)
	}
}
