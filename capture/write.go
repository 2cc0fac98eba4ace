package capture

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"

	"github.com/flashpipe/flashpipe/diskimage/bmap"
	"github.com/flashpipe/flashpipe/fsimage"
)

// piece is one chunk of the image, read: data is nil when nothing in it
// is mapped (it is all zeros).
type piece struct {
	off  int64
	n    int
	data []byte
	out  chan encoded // the compressed chunk, from a worker
}

type encoded struct {
	b   []byte
	err error
}

// reader reads the mapped ranges of the source chunk by chunk, in order,
// and hashes each range of the block map as it goes: those SHA-256s are
// the map's checksums and what the read-back is compared with.
type reader struct {
	src   io.ReaderAt
	name  string
	m     *bmap.Map
	regs  []fsimage.Region
	size  int64
	i     int         // the range being read
	h     hash.Hash   // its hash so far
	done  int64       // mapped bytes read
	free  chan []byte // buffers to reuse
	total int64
}

func newReader(src io.ReaderAt, name string, m *bmap.Map) *reader {
	return &reader{src: src, name: name, m: m, regs: m.Regions(), size: m.ImageSize, total: m.MappedBytes(),
		free: make(chan []byte, maxWorkers+3)}
}

// next reads the chunk at off.
func (r *reader) next(off int64) (*piece, error) {
	n := int(min(chunkSize, r.size-off))
	end := off + int64(n)
	p := &piece{off: off, n: n, out: make(chan encoded, 1)}
	for r.i < len(r.regs) && r.regs[r.i].Offset < end {
		reg := r.regs[r.i]
		a, b := max(reg.Offset, off), min(reg.Offset+reg.Length, end)
		if p.data == nil {
			p.data = r.buffer(n)
		}
		buf := p.data[a-off : b-off]
		if k, err := r.src.ReadAt(buf, a); k < len(buf) {
			return nil, fmt.Errorf("reading %s bytes %d-%d: %w", r.name, a, b-1, err)
		}
		if r.h == nil {
			r.h = r.m.NewHash()
		}
		r.h.Write(buf)
		r.done += b - a
		if b < reg.Offset+reg.Length {
			break // the range goes on in the next chunk
		}
		r.m.Ranges[r.i].Checksum = hex.EncodeToString(r.h.Sum(nil))
		r.h = nil
		r.i++
	}
	return p, nil
}

// buffer returns a zeroed buffer of n bytes.
func (r *reader) buffer(n int) []byte {
	select {
	case b := <-r.free:
		b = b[:n]
		clear(b)
		return b
	default:
		return make([]byte, n, chunkSize)
	}
}

// release keeps p's buffer for another chunk.
func (r *reader) release(p *piece) {
	if p.data == nil {
		return
	}
	select {
	case r.free <- p.data:
	default:
	}
	p.data = nil
}

// copyImage reads the source's mapped ranges and writes the image to out
// in format f: raw as a sparse file, compressed chunk by chunk on several
// cores. Reading, compressing and writing overlap. It returns the bytes
// of the output file.
func copyImage(ctx context.Context, r *reader, f Format, out *os.File, progress func(done, total int64)) (int64, error) {
	nworkers := workers(f)
	enc, err := newEncoder(f, nworkers)
	if err != nil {
		return 0, err
	}
	if enc != nil {
		defer enc.close()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	order, jobs := make(chan *piece, nworkers+1), make(chan *piece)
	var wg sync.WaitGroup
	wg.Go(func() { r.run(ctx, cancel, order, jobs, progress) })
	for range nworkers {
		wg.Go(func() {
			for p := range jobs {
				if enc == nil {
					p.out <- encoded{}
					continue
				}
				b, err := enc.chunk(p.data, p.n)
				r.release(p)
				p.out <- encoded{b, err}
			}
		})
	}
	w := &imageWriter{f: out, bw: bufio.NewWriterSize(out, 1<<20), raw: enc == nil, size: r.size}
	err = w.run(ctx, order, r)
	if err != nil {
		cancel(err)
	}
	wg.Wait()
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause // the reader's error
	}
	if err == nil {
		err = ctx.Err()
	}
	return w.written, err
}

// run reads every chunk in order and hands it to the writer (order) and
// the workers (jobs).
func (r *reader) run(ctx context.Context, cancel context.CancelCauseFunc, order, jobs chan<- *piece, progress func(done, total int64)) {
	defer close(jobs)
	defer close(order)
	for off := int64(0); off < r.size; off += chunkSize {
		p, err := r.next(off)
		if err != nil {
			cancel(err)
			return
		}
		for _, ch := range []chan<- *piece{order, jobs} {
			select {
			case ch <- p:
			case <-ctx.Done():
				return
			}
		}
		if progress != nil {
			progress(r.done, r.total)
		}
	}
}

// imageWriter writes the chunks in order: raw ones sparsely at their
// offsets, compressed ones one after the other.
type imageWriter struct {
	f       *os.File
	bw      *bufio.Writer
	raw     bool
	size    int64
	written int64
}

func (w *imageWriter) run(ctx context.Context, order <-chan *piece, r *reader) error {
	for p := range order {
		var e encoded
		select {
		case e = <-p.out:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if e.err != nil {
			return fmt.Errorf("compressing image bytes %d-%d: %w", p.off, p.off+int64(p.n)-1, e.err)
		}
		if w.raw {
			err := writeSparse(w.f, p.data, p.off)
			r.release(p)
			if err != nil {
				return err
			}
			continue
		}
		if _, err := w.bw.Write(e.b); err != nil {
			return err
		}
		w.written += int64(len(e.b))
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if w.raw {
		w.written = w.size
		return w.f.Truncate(w.size)
	}
	return w.bw.Flush()
}

// writeSparse writes the blocks of p that are not all zeros at off in f,
// which reads as zeros wherever nothing is written (a new file).
func writeSparse(f *os.File, p []byte, off int64) error {
	for i := 0; i < len(p); {
		for i < len(p) && allZero(p[i:min(i+blockSize, len(p))]) {
			i += blockSize
		}
		j := i
		for j < len(p) && !allZero(p[j:min(j+blockSize, len(p))]) {
			j += blockSize
		}
		if j > i {
			if _, err := f.WriteAt(p[i:min(j, len(p))], off+int64(i)); err != nil {
				return err
			}
		}
		i = j
	}
	return nil
}
