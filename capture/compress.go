package capture

import (
	"bytes"
	"runtime"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// chunkSize is the piece of the image compressed on its own: each chunk
// becomes one complete gzip member, zstd frame or xz stream, and the
// output is those in order. Every format allows such concatenation and
// every decoder reads it (gzip -d, zstd -d, xz -d, bmaptool, flashpipe),
// so chunks compress in parallel on every core, as pigz, zstd -T0 and
// xz -T0 do. 8 MiB is xz -6's and zstd -3's window: larger chunks would
// gain little, smaller ones would lose matches at their edges.
const chunkSize = 8 << 20

// maxWorkers bounds the compressing goroutines, and so memory: each holds
// a chunk, its output and its encoder's state. xz's encoder allocates about
// 50 MB (an 8 MiB dictionary and its hash table) for every chunk, so fewer
// of them run at once.
const (
	maxWorkers   = 8
	maxXzWorkers = 4
)

// workers returns how many chunks of format f to compress at once: one a
// core, within the bounds above; 1 for raw, which is not compressed.
func workers(f Format) int {
	switch f {
	case Raw:
		return 1
	case Xz:
		return max(1, min(runtime.GOMAXPROCS(0), maxXzWorkers))
	}
	return max(1, min(runtime.GOMAXPROCS(0), maxWorkers))
}

// encoder compresses whole chunks; it is safe for concurrent use. zeros is
// the compressed form of a chunk of chunkSize zeros, made once: what is not
// mapped (on a mostly empty stick, nearly everything) costs nothing to
// compress.
type encoder struct {
	encode func(dst *bytes.Buffer, p []byte) error
	close  func()

	once  sync.Once
	zeros []byte
	err   error
}

// newEncoder returns the encoder of a compressed format. Levels are each
// reference CLI's default, so a capture is about the size an operator
// expects of a .zst, .xz or .gz (measurements: docs/architecture.md, The
// capture package):
//
//   - zstd: SpeedDefault (zstd -3), with content checksums: about 130 MB/s
//     a core. SpeedBetterCompression was 4 % smaller for 20 % more time.
//   - gzip: level 6 (gzip -6). Level 9 was 17× slower for 6 % less.
//   - xz: ulikunitz's only encoder, LZMA2 with an 8 MiB dictionary (xz -6's)
//     and its hash-chain matcher (its binary-tree matcher did not finish 4
//     MiB in four minutes): about 20 MB/s a core, and about 10 % smaller
//     than zstd on a master of files from /usr (docs/performance.md).
//     For tools that want .xz.
func newEncoder(f Format, workers int) (*encoder, error) {
	switch f {
	case Zstd:
		z, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(workers),
			zstd.WithWindowSize(chunkSize), zstd.WithEncoderCRC(true))
		if err != nil {
			return nil, err
		}
		return &encoder{encode: func(dst *bytes.Buffer, p []byte) error {
			dst.Write(z.EncodeAll(p, nil))
			return nil
		}, close: func() { z.Close() }}, nil
	case Gzip:
		var pool sync.Pool
		return &encoder{encode: func(dst *bytes.Buffer, p []byte) error {
			w, _ := pool.Get().(*gzip.Writer)
			if w == nil {
				var err error
				if w, err = gzip.NewWriterLevel(dst, 6); err != nil {
					return err
				}
			} else {
				w.Reset(dst)
			}
			defer pool.Put(w)
			if _, err := w.Write(p); err != nil {
				return err
			}
			return w.Close()
		}, close: func() {}}, nil
	case Xz:
		cfg := xz.WriterConfig{DictCap: chunkSize}
		if err := cfg.Verify(); err != nil {
			return nil, err
		}
		return &encoder{encode: func(dst *bytes.Buffer, p []byte) error {
			w, err := cfg.NewWriter(dst)
			if err != nil {
				return err
			}
			if _, err := w.Write(p); err != nil {
				return err
			}
			return w.Close()
		}, close: func() {}}, nil
	}
	return nil, nil // Raw: nothing to compress
}

// chunk compresses one chunk of n bytes whose data is p; p nil (nothing
// mapped in it) or all zeros stands for n zeros.
func (e *encoder) chunk(p []byte, n int) ([]byte, error) {
	if p == nil || allZero(p) {
		if n == chunkSize {
			e.once.Do(func() {
				var b bytes.Buffer
				e.err = e.encode(&b, make([]byte, chunkSize))
				e.zeros = b.Bytes()
			})
			return e.zeros, e.err
		}
		p = make([]byte, n)
	}
	var b bytes.Buffer
	b.Grow(len(p)/2 + 4096)
	err := e.encode(&b, p)
	return b.Bytes(), err
}

// zeroBlock is one block of zeros to compare with.
var zeroBlock [blockSize]byte

// allZero reports whether p holds only zeros.
func allZero(p []byte) bool {
	for len(p) > 0 {
		n := min(len(p), blockSize)
		if !bytes.Equal(p[:n], zeroBlock[:n]) {
			return false
		}
		p = p[n:]
	}
	return true
}
