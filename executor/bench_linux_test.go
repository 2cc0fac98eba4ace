//go:build linux

package executor

import (
	"context"
	"testing"

	"github.com/flashpipe/flashpipe/fsimage"
)

// BenchmarkWriteVerify writes and verifies a plan of 64 MiB of file data in
// 256 KiB files to an image file in a temporary directory (so it measures
// the executor's CPU and copy cost, not a stick):
//
//	go test -run '^$' -bench WriteVerify ./executor/
func BenchmarkWriteVerify(b *testing.B) {
	const size, fileSize = 96 << 20, 256 << 10
	tp := &testPlan{files: map[string]*fsimage.Entry{}, src: b.TempDir()}
	p := &fsimage.Plan{DeviceSize: size, SectorSize: 512}
	data := make([]byte, fileSize)
	for i := 0; i < 256; i++ {
		for j := range data {
			data[j] = byte(i + j*31)
		}
		e := tp.addFile(b, "f"+string(rune('a'+i%26))+string(rune('a'+i/26)), data)
		off := int64(1<<20 + i*fileSize)
		p.Extents = append(p.Extents, fsimage.Extent{Offset: off, Length: fileSize, Kind: fsimage.FileData, Entry: e, What: e.Path})
		p.Files = append(p.Files, fsimage.FileRun{Entry: e, Offset: off})
	}
	dev, _ := imageDevice(b, size)
	b.SetBytes(p.Bytes())
	b.ResetTimer()
	for b.Loop() {
		if _, err := Write(context.Background(), dev, p, Options{}); err != nil {
			b.Fatal(err)
		}
		if res, err := Verify(context.Background(), dev, p, Options{}); err != nil || !res.OK {
			b.Fatalf("Verify = %+v, %v", res, err)
		}
	}
}
