package capture

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/flashpipe/flashpipe/blockdev"
)

// directReader reads a block device opened with O_DIRECT at any offset and
// length, through an aligned buffer: what the device holds, not what the
// page cache does. (A filesystem mounted read-only may change its buffers
// in memory — ext4 does its journal's superblock — and those changes show
// through the page cache but never reach the device.)
type directReader struct {
	f     *os.File
	size  int64
	align int64 // the device's logical sector size
	mu    sync.Mutex
	buf   []byte
}

// directBuf is the most read from the device at once.
const directBuf = 4 << 20

func newDirectReader(f *os.File, size int64, sectorSize int) *directReader {
	return &directReader{f: f, size: size, align: int64(max(sectorSize, 512)), buf: blockdev.AlignedBuffer(directBuf)}
}

// ReadAt reads len(p) bytes at off; past the device's end it returns
// io.EOF, as a file does.
func (r *directReader) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	done := 0
	for done < len(p) {
		at := off + int64(done)
		if at >= r.size {
			return done, io.EOF
		}
		start := at / r.align * r.align
		end := min((at+int64(len(p)-done)+r.align-1)/r.align*r.align, r.size, start+directBuf)
		n, err := r.f.ReadAt(r.buf[:end-start], start)
		if int64(n) < end-start {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return done, fmt.Errorf("reading %s at %d: %w", r.f.Name(), start, err)
		}
		done += copy(p[done:], r.buf[at-start:end-start])
	}
	return done, nil
}
