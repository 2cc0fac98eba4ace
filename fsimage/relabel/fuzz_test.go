package relabel

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
)

// A fuzz input is a sparse image, so that a seed holds a real filesystem
// in a few kilobytes and mutations land in its structures:
//
//	bytes 0-2   image size in KiB (little endian), at least 1, at most 64 MiB
//	then        records: offset (4 bytes LE), length (2 bytes LE), data;
//	            the image is zeros with each record's data written over it
const fuzzMaxImage = 64 << 20

// sparseImage is a decoded fuzz input: an io.ReaderAt of size bytes.
type sparseImage struct {
	size  int64
	pages map[int64][]byte // 4 KiB pages that are not zeros
}

func decodeImage(data []byte) *sparseImage {
	im := &sparseImage{size: 1024, pages: map[int64][]byte{}}
	if len(data) < 3 {
		return im
	}
	im.size = min(max(int64(data[0])|int64(data[1])<<8|int64(data[2])<<16, 1)<<10, fuzzMaxImage)
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

func (im *sparseImage) set(off int64, c byte) {
	if off >= im.size {
		return
	}
	p, ok := im.pages[off&^4095]
	if !ok {
		p = make([]byte, 4096)
		im.pages[off&^4095] = p
	}
	p[off&4095] = c
}

func (im *sparseImage) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(b)) > im.size {
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

// encodeImage is decodeImage's inverse for a real image file: its
// non-zero 512-byte sectors as records.
func encodeImage(t testing.TB, path string) []byte {
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

// FuzzPatch reads hostile images: Find and Patch never panic, never read
// outside the image, and whatever they return to write is whole sectors
// inside the image, sorted and apart.
func FuzzPatch(f *testing.F) {
	dir := f.TempDir()
	for _, kind := range []string{"fat12", "exfat", "ext4"} {
		f.Add(encodeImage(f, mkfsSeed(f, dir, kind)))
	}
	disk := looptest.Sparse(f, dir, 2<<20)
	imagetest.Run(f, "label: dos\nstart=2048, size=2048, type=1\n", "sfdisk", "-q", disk)
	place(f, disk, mkfsSeed(f, dir, "fat12"), 2048*512)
	f.Add(encodeImage(f, disk))
	f.Fuzz(func(t *testing.T, data []byte) {
		im := decodeImage(data)
		for _, n := range []int{0, 1, 2, 5} {
			v, err := Find(im, im.size, n)
			if err != nil {
				continue
			}
			if v.Offset < 0 || v.Size <= 0 || v.Offset+v.Size > im.size {
				t.Fatalf("Find(%d) = %+v in an image of %d bytes", n, v, im.size)
			}
			res, err := Patch(im, im.size, v, "X", time.Unix(0, 0))
			if err != nil {
				continue
			}
			checkExtents(t, res, im.size)
		}
	})
}

// mkfsSeed makes a small filesystem of kind for a fuzz seed: 1 MiB (exFAT
// 2 MiB, its smallest).
func mkfsSeed(t testing.TB, dir, kind string) string {
	t.Helper()
	switch kind {
	case "ext4":
		return mkfs(t, dir, kind, 1, "seed", "-b", "1024", "-O", "metadata_csum")
	case "exfat":
		return mkfs(t, dir, kind, 2, "seed", "-b", "4096", "-c", "4096")
	}
	return mkfs(t, dir, kind, 1, "SEED")
}
