//go:build linux

package executor

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
)

// fillingSource is a DataSource whose bytes become ready over time, as a
// disk image decompressed into a cache does: a read waits until its range
// is ready.
type fillingSource struct {
	data  []byte
	mu    sync.Mutex
	ready int64
	cond  *sync.Cond
	waits int // reads that had to wait
}

func newFillingSource(data []byte) *fillingSource {
	s := &fillingSource{data: data}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// grow makes the source ready up to n bytes, in steps, while a writer runs.
func (s *fillingSource) grow(n int64, steps int) {
	for i := 1; i <= steps; i++ {
		time.Sleep(2 * time.Millisecond)
		s.mu.Lock()
		s.ready = n * int64(i) / int64(steps)
		s.cond.Broadcast()
		s.mu.Unlock()
	}
}

func (s *fillingSource) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready < off+int64(len(p)) {
		s.waits++
	}
	for s.ready < off+int64(len(p)) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		s.cond.Wait()
	}
	return copy(p, s.data[off:]), nil
}

// readerPlan maps src onto a device of size bytes: two ReaderData ranges
// at unaligned offsets with a Zero hole between them.
func readerPlan(size int64, src fsimage.DataSource) *fsimage.Plan {
	return &fsimage.Plan{DeviceSize: size, SectorSize: 512, Extents: []fsimage.Extent{
		{Offset: 4096, Length: 3<<20 + 100, Kind: fsimage.ReaderData, Reader: src, SourceOffset: 4096, What: "image bytes 4096.."},
		{Offset: 3<<20 + 4196, Length: 1 << 20, Kind: fsimage.Zero, What: "image hole"},
		{Offset: 4<<20 + 4196, Length: 2 << 20, Kind: fsimage.ReaderData, Reader: src, SourceOffset: 4<<20 + 4196, What: "image bytes 4198500.."},
	}}
}

// TestReaderDataWriteAndVerify writes ReaderData extents from a source that
// is still filling, verifies them against it, and fails verification once a
// byte on the device differs.
func TestReaderDataWriteAndVerify(t *testing.T) {
	const size = 8 << 20
	dev, img := imageDevice(t, size)
	fill(t, img, size, 0xa5) // stale data the write must cover
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	src := newFillingSource(data)
	plan := readerPlan(size, src)
	go src.grow(size, 50)
	st, err := Write(context.Background(), dev, plan, Options{BufferSize: 1 << 20})
	if err != nil || st.Bytes != plan.Bytes() {
		t.Fatalf("Write = %+v, %v; want all %d bytes", st, err, plan.Bytes())
	}
	if src.waits == 0 {
		t.Errorf("no read waited for the source: the test did not write while it filled")
	}
	res, err := Verify(context.Background(), dev, plan, Options{})
	if err != nil || !res.OK || res.Bytes < plan.Bytes() {
		t.Fatalf("Verify = %+v, %v; want OK over every byte", res, err)
	}
	pokeDirect(t, img, 5<<20)
	res, err = Verify(context.Background(), dev, plan, Options{})
	if err != nil || res.OK || len(res.Metadata) != 1 || res.Metadata[0] != "image bytes 4198500.." {
		t.Errorf("Verify after a poke = %+v, %v; want the second range named", res, err)
	}
}

// TestReaderDataWaitIsCancelled: a write waiting for a source that never
// fills ends when its context does.
func TestReaderDataWaitIsCancelled(t *testing.T) {
	const size = 8 << 20
	dev, _ := imageDevice(t, size)
	src := newFillingSource(make([]byte, size))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Write(ctx, dev, readerPlan(size, src), Options{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Write from a source that never fills = %v, want the context's deadline", err)
	}
}
