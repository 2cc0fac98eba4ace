package imagetest

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"
)

// A fuzz input of the image readers (fsimage/relabel, fsimage/imgedit) is
// a sparse image, so that a seed holds a real filesystem in a few
// kilobytes and mutations land in its structures:
//
//	bytes 0-2   image size in KiB (little endian), at least 1, at most 64 MiB
//	then        records: offset (4 bytes LE), length (2 bytes LE), data;
//	            the image is zeros with each record's data written over it
const maxSparse = 64 << 20

// SparseImage is a decoded fuzz input: an io.ReaderAt of Size bytes.
type SparseImage struct {
	Size  int64
	pages map[int64][]byte // 4 KiB pages that are not zeros
}

// DecodeSparse decodes a fuzz input (see EncodeSparse); any bytes make
// an image.
func DecodeSparse(data []byte) *SparseImage {
	im := &SparseImage{Size: 1024, pages: map[int64][]byte{}}
	if len(data) < 3 {
		return im
	}
	im.Size = min(max(int64(data[0])|int64(data[1])<<8|int64(data[2])<<16, 1)<<10, maxSparse)
	for rest := data[3:]; len(rest) >= 6; {
		off, n := int64(binary.LittleEndian.Uint32(rest)), int(binary.LittleEndian.Uint16(rest[4:]))
		rest = rest[6:]
		b := rest[:min(n, len(rest))]
		rest = rest[len(b):]
		for i, c := range b {
			im.set(off+int64(i), c)
		}
	}
	return im
}

func (im *SparseImage) set(off int64, c byte) {
	if off >= im.Size {
		return
	}
	p, ok := im.pages[off&^4095]
	if !ok {
		p = make([]byte, 4096)
		im.pages[off&^4095] = p
	}
	p[off&4095] = c
}

func (im *SparseImage) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(b)) > im.Size {
		return 0, os.ErrInvalid
	}
	for done := 0; done < len(b); {
		at := off + int64(done)
		n := copy(b[done:], make([]byte, min(4096-at&4095, int64(len(b)-done))))
		if p, ok := im.pages[at&^4095]; ok {
			copy(b[done:done+n], p[at&4095:])
		}
		done += n
	}
	return len(b), nil
}

// EncodeSparse is DecodeSparse's inverse for a real image file: its
// non-zero 512-byte sectors as records.
func EncodeSparse(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kib := len(data) >> 10
	out := []byte{byte(kib), byte(kib >> 8), byte(kib >> 16)}
	zero := make([]byte, 512)
	for off := 0; off+512 <= len(data); off += 512 {
		if bytes.Equal(data[off:off+512], zero) {
			continue
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(off))
		out = binary.LittleEndian.AppendUint16(out, 512)
		out = append(out, data[off:off+512]...)
	}
	return out
}
