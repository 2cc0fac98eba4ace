package allocmap

import (
	"fmt"
	"io"
)

// notUnderstood is a structure that is inconsistent, unsupported or unsafe
// to trust: the volume (or disk) it belongs to is mapped whole, with msg as
// the reason. It is never returned by Read.
type notUnderstood struct{ msg string }

func (e *notUnderstood) Error() string { return e.msg }

// bad returns a notUnderstood with a formatted reason.
func bad(format string, a ...any) error {
	return &notUnderstood{msg: fmt.Sprintf(format, a...)}
}

// disk is the device being read.
type disk struct {
	r    io.ReaderAt
	size int64
	ss   int // logical sector size
	// primaryOnly: read a GPT's backup only when its primary is damaged
	// (Partitions: the backup lies at the end of the disk).
	primaryOnly bool
}

// read returns n bytes at off. Bytes outside the disk are a notUnderstood
// (a structure points past the end); a failing read is an I/O error.
func (d *disk) read(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off > d.size || int64(n) > d.size-off {
		return nil, bad("a structure at offset %d (%d bytes) lies outside the disk's %d bytes", off, n, d.size)
	}
	b := make([]byte, n)
	if _, err := d.r.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("reading %d bytes at offset %d: %w", n, off, err)
	}
	return b, nil
}

// sectors returns the number of whole logical sectors of the disk.
func (d *disk) sectors() int64 { return d.size / int64(d.ss) }

// volume is a range of the disk that holds one filesystem.
type volume struct {
	d    *disk
	off  int64 // byte offset on the disk
	size int64 // bytes
}

// read returns n bytes at off inside the volume; bytes outside it are a
// notUnderstood.
func (v *volume) read(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off > v.size || int64(n) > v.size-off {
		return nil, bad("a structure at offset %d (%d bytes) lies outside the volume's %d bytes", off, n, v.size)
	}
	return v.d.read(v.off+off, n)
}
