package imgedit

import (
	"testing"

	"github.com/flashpipe/flashpipe/fsimage/imagetest"
)

// BenchmarkPatchPiBoot measures what one stick's files cost before its
// write: Open and Patch of a Raspberry Pi's four first-boot files (one of
// several clusters) into a 512 MiB FAT32 boot partition, as Raspberry Pi
// OS ships it, that already holds files. It reports the bytes of extents
// Patch returns per stick (written/op) and the bytes it reads (read/op).
func BenchmarkPatchPiBoot(b *testing.B) {
	dir := b.TempDir()
	img := imagetest.Mkfs(b, dir, "fat32", 512, "bootfs")
	edit(b, img, 0, append(piFiles(0), File{Path: "overlays/README", Data: make([]byte, 40000)}))
	f, size := imagetest.OpenImage(b, img)
	counted := &countingReader{r: f}
	b.ResetTimer()
	var written int64
	for i := 0; i < b.N; i++ {
		v, err := Open(counted, size, 0)
		if err != nil {
			b.Fatal(err)
		}
		res, err := Patch(counted, size, v, piFiles(i))
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range res.Extents {
			written += e.Length
		}
	}
	b.ReportMetric(float64(written)/float64(b.N), "written/op")
	b.ReportMetric(float64(counted.n)/float64(b.N), "read/op")
}

type countingReader struct {
	r interface {
		ReadAt([]byte, int64) (int, error)
	}
	n int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.n += int64(len(p))
	return c.r.ReadAt(p, off)
}
