//go:build linux

package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev"
	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/receipts"
	"golang.org/x/sys/unix"
)

const devSize = 32 << 20

func TestWriteVerifyLoop(t *testing.T) {
	for _, ss := range []int{512, 4096} {
		t.Run(map[int]string{512: "512", 4096: "4K"}[ss], func(t *testing.T) {
			dev, backing := loopDevice(t, devSize, ss)
			fill(t, dev.Path, devSize, 0xa5) // stale data everywhere
			tp := newTestPlan(t, devSize, ss)
			var reports []Progress
			st, err := Write(context.Background(), dev, tp.plan, Options{BufferSize: 1 << 20,
				Progress: func(p Progress) { reports = append(reports, p) }})
			if err != nil {
				t.Fatalf("Write = %v", err)
			}
			if st.Bytes != tp.plan.Bytes() || st.Files != len(tp.files) || !st.Direct {
				t.Errorf("Write stats = Bytes %d Files %d Direct %v, want %d %d true", st.Bytes, st.Files, st.Direct, tp.plan.Bytes(), len(tp.files))
			}
			if st.Zeroed == 0 {
				t.Errorf("Write zeroed %d bytes with BLKZEROOUT, want the large Zero extent", st.Zeroed)
			}
			if last := reports[len(reports)-1]; last.Done != last.Total || last.Total != tp.plan.Bytes() {
				t.Errorf("last progress = %+v, want Done = Total = %d", last, tp.plan.Bytes())
			}
			res, err := Verify(context.Background(), dev, tp.plan, Options{})
			if err != nil || !res.OK || res.Files != len(tp.files) {
				t.Fatalf("Verify = %+v, %v, want OK with %d files", res, err, len(tp.files))
			}
			dev.Close()
			sameAsReference(t, tp.plan, backing)
		})
	}
}

func TestWriteVerifyImageFile(t *testing.T) {
	// An odd size puts the last extent's end off the 4 KiB grid.
	for _, size := range []int64{devSize, devSize + 1000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			dev, img := imageDevice(t, size)
			fill(t, img, size, 0xa5)
			tp := newTestPlan(t, size, 512)
			st, err := Write(context.Background(), dev, tp.plan, Options{})
			if err != nil {
				t.Fatalf("Write = %v", err)
			}
			res, err := Verify(context.Background(), dev, tp.plan, Options{})
			if err != nil || !res.OK {
				t.Fatalf("Verify = %+v, %v, want OK", res, err)
			}
			sameAsReference(t, tp.plan, img)
			// The large Zero extent became a hole: fewer blocks than bytes.
			var sst unix.Stat_t
			if err := unix.Stat(img, &sst); err != nil {
				t.Fatal(err)
			}
			if st.Zeroed == 0 || sst.Blocks*512 > size-st.Zeroed+1<<20 {
				t.Errorf("image uses %d bytes after zeroing %d, want a hole", sst.Blocks*512, st.Zeroed)
			}
		})
	}
}

func TestVerifyFindsCorruptFile(t *testing.T) {
	dev, backing := loopDevice(t, devSize, 512)
	tp := newTestPlan(t, devSize, 512)
	if _, err := Write(context.Background(), dev, tp.plan, Options{}); err != nil {
		t.Fatalf("Write = %v", err)
	}
	run := tp.plan.Files[3] // dir/file3.bin
	pokeDirect(t, backing, run.Offset+run.Entry.Size-1)
	res, err := Verify(context.Background(), dev, tp.plan, Options{})
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	var failed []string
	for _, f := range res.FailedFiles {
		failed = append(failed, f.Path)
	}
	if res.OK || !slices.Equal(failed, []string{run.Entry.Path}) || len(res.Metadata) != 0 {
		t.Errorf("Verify after corrupting %s = OK %v failed %v metadata %v, want not OK, failed [%s], no metadata",
			run.Entry.Path, res.OK, failed, res.Metadata, run.Entry.Path)
	}
}

func TestVerifyFindsCorruptMetadata(t *testing.T) {
	dev, backing := loopDevice(t, devSize, 4096)
	tp := newTestPlan(t, devSize, 4096)
	if _, err := Write(context.Background(), dev, tp.plan, Options{}); err != nil {
		t.Fatalf("Write = %v", err)
	}
	pokeDirect(t, backing, 70_000+5000)   // inside "fat #1"
	pokeDirect(t, backing, 100_000+3<<20) // inside "fat #2 zeros"
	res, err := Verify(context.Background(), dev, tp.plan, Options{})
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	want := []string{"fat #1", "fat #2 zeros"}
	if res.OK || !slices.Equal(res.Metadata, want) || len(res.FailedFiles) != 0 {
		t.Errorf("Verify = OK %v metadata %v failed %v, want not OK, metadata %v", res.OK, res.Metadata, res.FailedFiles, want)
	}
}

// TestVerifyBypassesPageCache fills the loop device's page cache with the
// written data, changes the backing file underneath (O_DIRECT, so the loop
// device's cache is now stale, as a buffered read shows), and expects
// Verify to see the change.
func TestVerifyBypassesPageCache(t *testing.T) {
	dev, backing := loopDevice(t, devSize, 512)
	tp := newTestPlan(t, devSize, 512)
	if _, err := Write(context.Background(), dev, tp.plan, Options{}); err != nil {
		t.Fatalf("Write = %v", err)
	}
	run := tp.plan.Files[4]
	cached := func() []byte { // a buffered read through the loop device
		f, err := os.Open(dev.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b := make([]byte, run.Entry.Size)
		if _, err := f.ReadAt(b, run.Offset); err != nil {
			t.Fatal(err)
		}
		return b
	}
	before := cached()
	pokeDirect(t, backing, run.Offset+10)
	if after := cached(); !bytes.Equal(before, after) {
		testreq.Skip(t, "needs a loop device whose page cache keeps the old data under an O_DIRECT write to its backing file (to show a stale cache)")
	}
	res, err := Verify(context.Background(), dev, tp.plan, Options{})
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if res.OK || len(res.FailedFiles) != 1 || res.FailedFiles[0].Path != run.Entry.Path {
		t.Errorf("Verify with a stale page cache = OK %v failed %v, want not OK, failed [%s]", res.OK, res.FailedFiles, run.Entry.Path)
	}
}

func TestWriteFailsOnChangedSource(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, e *fsimage.Entry)
	}{
		{"same size and mtime", func(t *testing.T, e *fsimage.Entry) {
			b, _ := os.ReadFile(e.Source)
			b[len(b)/2] ^= 1
			if err := os.WriteFile(e.Source, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(e.Source, e.ModTime, e.ModTime); err != nil {
				t.Fatal(err)
			}
		}},
		{"grown", func(t *testing.T, e *fsimage.Entry) {
			f, _ := os.OpenFile(e.Source, os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte("more"))
			f.Close()
		}},
		{"touched", func(t *testing.T, e *fsimage.Entry) {
			ts := e.ModTime.Add(time.Second)
			os.Chtimes(e.Source, ts, ts)
		}},
		{"removed", func(t *testing.T, e *fsimage.Entry) { os.Remove(e.Source) }},
		{"replaced by a FIFO", func(t *testing.T, e *fsimage.Entry) {
			os.Remove(e.Source)
			imagetest.FIFO(t, e.Source)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev, _ := imageDevice(t, devSize)
			tp := newTestPlan(t, devSize, 512)
			e := tp.files["dir/file0.bin"]
			tc.change(t, e)
			var err error
			imagetest.Within(t, 10*time.Second, e.Source, "Write", func() {
				_, err = Write(context.Background(), dev, tp.plan, Options{})
			})
			t.Logf("Write error: %v", err)
			var se *SourceError
			if !errors.As(err, &se) || se.Path != e.Path {
				t.Errorf("Write after the source changed = %v, want a *SourceError naming %s", err, e.Path)
			}
		})
	}
}

// TestVerifySourceReplacedByFIFO: verify hashes a source itself when the
// manifest has no SHA1; a source replaced by a FIFO fails that file at
// once instead of blocking in open.
func TestVerifySourceReplacedByFIFO(t *testing.T) {
	dev, _ := imageDevice(t, devSize)
	tp := newTestPlan(t, devSize, 512)
	if _, err := Write(context.Background(), dev, tp.plan, Options{}); err != nil {
		t.Fatalf("Write = %v", err)
	}
	e := tp.files["dir/file1.bin"]
	e.SHA1 = [20]byte{}
	os.Remove(e.Source)
	imagetest.FIFO(t, e.Source)
	var res *receipts.Verify
	var err error
	imagetest.Within(t, 10*time.Second, e.Source, "Verify", func() {
		res, err = Verify(context.Background(), dev, tp.plan, Options{})
	})
	if err != nil || res == nil || res.OK || len(res.FailedFiles) != 1 || !strings.Contains(res.FailedFiles[0].Err, "is a fifo") {
		t.Errorf("Verify with a source replaced by a FIFO = %+v, %v; want %s failed as a fifo", res, err, e.Path)
	}
}

func TestWriteRejectsWrongDevice(t *testing.T) {
	dev, _ := imageDevice(t, devSize)
	tp := newTestPlan(t, devSize*2, 512)
	if _, err := Write(context.Background(), dev, tp.plan, Options{}); err == nil {
		t.Errorf("Write(plan for %d bytes) on %d bytes = nil, want an error", devSize*2, devSize)
	}
}

// TestWriteDeviceGone takes the medium away under a throttled Write: the
// backing file is truncated to zero and the loop device's capacity is
// re-read (what a card reader does when the card is pulled). (Detaching
// with losetup -d does not do: the kernel defers the detach until the last
// close, and writes go on succeeding.) A write still in flight may extend
// the backing file before the capacity is re-read, so the new capacity is
// not always zero; blockdev.Device.Gone counts any change of capacity.
func TestWriteDeviceGone(t *testing.T) {
	looptest.RequireThrottle(t)
	dev, backing := loopDevice(t, devSize, 512)
	looptest.Throttle(t, dev.Path, 2<<20, 0)
	tp := newTestPlan(t, devSize, 512)
	started := make(chan struct{})
	var once bool
	opts := Options{BufferSize: 1 << 20, ProgressInterval: time.Nanosecond, Progress: func(p Progress) {
		if p.Done > 0 && !once {
			once = true
			close(started)
		}
	}}
	errc := make(chan error, 1)
	go func() {
		_, err := Write(context.Background(), dev, tp.plan, opts)
		errc <- err
	}()
	<-started
	if err := os.Truncate(backing, 0); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("losetup", "-c", dev.Path).CombinedOutput(); err != nil {
		t.Fatalf("losetup -c: %v: %s", err, out)
	}
	err := <-errc
	t.Logf("Write error: %v", err)
	if err == nil || !IsDeviceGone(err) {
		t.Errorf("Write with the medium gone = %v, want an error with IsDeviceGone", err)
	}
}

// TestWriteFailsPartWay writes a plan to an image file on a tmpfs that
// fills up part way: Write fails, and Stats.Bytes counts the plan's bytes
// that are on the target — every extent below the point it names holds
// the plan's bytes — and not the plan's size.
func TestWriteFailsPartWay(t *testing.T) {
	dev, img := imageDeviceIn(t, looptest.Tmpfs(t, 12<<20), devSize)
	tp := newTestPlan(t, devSize, 512)
	// 20 MiB of file data more, at 10 MiB, before the last extent: the
	// plan no longer fits the tmpfs.
	big := tp.addFile(t, "dir/big.bin", bytes.Repeat([]byte("0123456789abcdef"), 20<<16))
	last := tp.plan.Extents[len(tp.plan.Extents)-1]
	tp.plan.Extents = append(tp.plan.Extents[:len(tp.plan.Extents)-1],
		fsimage.Extent{Offset: 10 << 20, Length: big.Size, Kind: fsimage.FileData, Entry: big, What: big.Path}, last)
	if err := tp.plan.Check(); err != nil {
		t.Fatal(err)
	}
	st, err := Write(context.Background(), dev, tp.plan, Options{BufferSize: 1 << 20})
	t.Logf("Write = %+v, %v", st, err)
	if err == nil || !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("Write to a full tmpfs = %v, want ENOSPC", err)
	}
	if st.Bytes <= 0 || st.Bytes >= tp.plan.Bytes() {
		t.Fatalf("Stats.Bytes = %d after a failure, want more than 0 and less than the plan's %d", st.Bytes, tp.plan.Bytes())
	}
	// The extents (cut where Bytes runs out) that Bytes counts, in order,
	// must be on the target.
	left := st.Bytes
	var written []fsimage.Extent
	for _, e := range tp.plan.Extents {
		if left == 0 {
			break
		}
		if e.Length > left {
			e.Length = left
			if e.Kind == fsimage.Bytes {
				e.Data = e.Data[:left]
			}
		}
		left -= e.Length
		written = append(written, e)
	}
	end := written[len(written)-1].End()
	m := regexp.MustCompile(` at (\d+): `).FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("Write error %q does not say where it failed", err)
	}
	failedAt, _ := strconv.ParseInt(m[1], 10, 64)
	if end > failedAt || end < failedAt-2*(1<<20)-zeroOutMin {
		t.Errorf("Stats.Bytes = %d counts the plan up to %d; the write failed at %d: want the count to end there, short by at most the windows in flight", st.Bytes, end, failedAt)
	}
	sameAsReference(t, &fsimage.Plan{DeviceSize: devSize, Extents: written}, img)
}

func TestWriteCanceled(t *testing.T) {
	dev, _ := imageDevice(t, devSize)
	tp := newTestPlan(t, devSize, 512)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Write(ctx, dev, tp.plan, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Write(canceled) = %v, want context.Canceled", err)
	}
}

func TestIsDeviceGone(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&Error{Step: "write", Device: "/dev/sdb", Err: unix.EIO, Gone: true}, true},
		{&Error{Step: "write", Device: "/dev/sdb", Err: unix.EIO}, false},
		{&Error{Step: "write", Device: "/dev/sdb", Err: unix.ENODEV}, true},
		{unix.ENXIO, true},
		{errors.New("other"), false},
		{&Error{Step: "write", Device: "/dev/sdb", Err: blockdev.ErrBusy}, false},
	} {
		if got := IsDeviceGone(tc.err); got != tc.want {
			t.Errorf("IsDeviceGone(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestHungStickStopsOnTime: on a stick that writes and reads 64 kB/s, a
// 2 MiB call would hold the thread for half a minute in the kernel, where
// no cancellation reaches it. Write and Verify size their calls to the
// measured speed, so they return within about a second of their deadline.
func TestHungStickStopsOnTime(t *testing.T) {
	looptest.RequireThrottle(t)
	dev, _ := loopDevice(t, devSize, 512)
	looptest.Throttle(t, dev.Path, 64<<10, 64<<10)
	tp := newTestPlan(t, devSize, 512)
	for _, step := range []string{"write", "verify"} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		start := time.Now()
		var err error
		if step == "write" {
			_, err = Write(ctx, dev, tp.plan, Options{})
		} else {
			_, err = Verify(ctx, dev, tp.plan, Options{})
		}
		cancel()
		if took := time.Since(start); err == nil || took > 4*time.Second {
			t.Errorf("%s on a 64 kB/s stick with a 2 s deadline returned after %v with %v, want an error within 4 s", step, took.Round(time.Millisecond), err)
		}
	}
}
