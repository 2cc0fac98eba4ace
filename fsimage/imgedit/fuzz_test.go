package imgedit

import (
	"fmt"
	"testing"

	"github.com/flashpipe/flashpipe/fsimage/imagetest"
)

// FuzzPatch edits hostile images: Open and Patch never panic, never read
// outside the image, and whatever they return to write is sorted and
// apart, inside the volume. Seeds: FAT12 and exFAT volumes holding files
// in a folder.
func FuzzPatch(f *testing.F) {
	dir := f.TempDir()
	for _, c := range []struct {
		kind  string
		mib   int64
		extra []string
	}{{"fat12", 1, nil}, {"exfat", 2, []string{"-b", "4096", "-c", "4096"}}} {
		img := imagetest.Mkfs(f, dir, c.kind, c.mib, "SEED", c.extra...)
		edit(f, img, 0, []File{{Path: "d/a long name.txt", Data: []byte("seed\n")}, {Path: "ssh"}})
		f.Add(imagetest.EncodeSparse(f, img))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		im := imagetest.DecodeSparse(data)
		v, err := Open(im, im.Size, 0)
		if err != nil {
			return
		}
		files := []File{{Path: "ssh"}, {Path: "d/a long name.txt", Data: []byte("fuzz")}, {Path: "e/f/g.txt", Data: make([]byte, 9000)}}
		res, err := Patch(im, im.Size, v, files)
		if err != nil {
			return
		}
		var prev int64
		for i, e := range res.Extents {
			if e.Offset < prev || e.Length <= 0 || e.Offset < v.Offset || e.End() > v.Offset+v.Size {
				t.Fatalf("Extents[%d] = %s at %d (%d bytes) after %d: want sorted, apart, inside %v", i, e.What, e.Offset, e.Length, prev, fmt.Sprint(v))
			}
			prev = e.End()
		}
	})
}
