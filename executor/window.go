package executor

import (
	"context"
	"errors"
)

// span is a byte range [off, end) on the device.
type span struct{ off, end int64 }

// maxGap is the largest don't-care gap between two ranges that one window
// covers (and fills with zeros); a larger gap ends the window.
const maxGap = 256 << 10

// planWindows returns the I/O windows that cover spans (sorted,
// non-overlapping): each starts and ends on a multiple of align (except
// where clipped to size), is at most maxLen bytes (a multiple of align), and
// never spans a gap larger than maxGap.
func planWindows(spans []span, size, maxLen, align int64) []span {
	var ws []span
	var prevEnd int64
	for i := 0; i < len(spans); {
		cur := max(spans[i].off, prevEnd)
		start := alignDown(cur, align)
		limit := min(start+maxLen, size)
		end := cur
		for i < len(spans) && spans[i].off < limit {
			if spans[i].off-end > maxGap {
				break
			}
			end = min(spans[i].end, limit)
			if spans[i].end > limit {
				break // the span goes on in the next window
			}
			i++
		}
		prevEnd = min(alignUp(end, align), size)
		ws = append(ws, span{start, prevEnd})
	}
	return ws
}

// job is one window in flight through a pipeline.
type job struct {
	w   span
	buf []byte // len == w.end - w.off; nil for jobs without data
	seq int
	// payload is how many bytes of the plan the window carries.
	payload int64
}

// pipeline runs produce and consume over the windows with nbuf buffers of
// bufSize bytes: produce fills (or reads into) a buffer in one goroutine
// while consume writes (or checks) the previous one in the caller's
// goroutine. needBuf says which windows need a buffer. The first error
// stops both sides and is returned.
func pipeline(ctx context.Context, windows []span, nbuf, bufSize int, alloc func(int) []byte,
	needBuf func(i int) bool, produce, consume func(j *job) error) error {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	consumed := 0
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- alloc(bufSize)
	}
	jobs := make(chan job, nbuf)
	perr := make(chan error, 1)
	go func() {
		defer close(jobs)
		for i, w := range windows {
			j := job{w: w, seq: i}
			if needBuf(i) {
				select {
				case b := <-free:
					j.buf = b[:w.end-w.off]
				case <-ctx.Done():
					perr <- nil
					return
				}
			}
			if err := produce(&j); err != nil {
				perr <- err
				return
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				perr <- nil
				return
			}
		}
		perr <- nil
	}()
	var cerr error
	for j := range jobs {
		if cerr != nil {
			continue // drain so the producer can finish
		}
		if err := ctx.Err(); err != nil {
			cerr = errors.Join(errCanceled, err)
			cancel()
			continue
		}
		if err := consume(&j); err != nil {
			cerr = err
			cancel()
			continue
		}
		consumed++
		if j.buf != nil {
			free <- j.buf[:cap(j.buf)]
		}
	}
	if err := <-perr; err != nil {
		return err
	}
	if cerr == nil && consumed < len(windows) {
		cerr = errors.Join(errCanceled, parent.Err())
	}
	return cerr
}
