package fat

import (
	"fmt"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
)

// syntheticEntries returns 20,000 files of 1..64 KiB with long names in
// 100 directories, sorted by path; nothing exists on disk.
func syntheticEntries(n int) []*fsimage.Entry {
	mod := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	var entries []*fsimage.Entry
	for d := 0; d < 100; d++ {
		dir := fmt.Sprintf("directory %03d", d)
		entries = append(entries, &fsimage.Entry{Path: dir, Dir: true, ModTime: mod})
		for f := 0; f < n/100; f++ {
			entries = append(entries, &fsimage.Entry{
				Path: fmt.Sprintf("%s/a rather long file name %05d.dat", dir, f), Source: "/nonexistent",
				Size: int64(1+f%64) << 10, ModTime: mod,
			})
		}
	}
	return entries
}

func BenchmarkBuild20000Files(b *testing.B) {
	vol := fsimage.Volume{Size: 8 << 30, SectorSize: 512, Label: "BENCH", Entries: syntheticEntries(20000), Now: testNow}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(vol); err != nil {
			b.Fatal(err)
		}
	}
}
