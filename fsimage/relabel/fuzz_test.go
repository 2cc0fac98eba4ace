package relabel

import (
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
)

// FuzzPatch reads hostile images: Find and Patch never panic, never read
// outside the image, and whatever they return to write is whole sectors
// inside the image, sorted and apart.
func FuzzPatch(f *testing.F) {
	dir := f.TempDir()
	for _, kind := range []string{"fat12", "exfat", "ext4"} {
		f.Add(imagetest.EncodeSparse(f, mkfsSeed(f, dir, kind)))
	}
	disk := looptest.Sparse(f, dir, 2<<20)
	imagetest.Run(f, "label: dos\nstart=2048, size=2048, type=1\n", "sfdisk", "-q", disk)
	place(f, disk, mkfsSeed(f, dir, "fat12"), 2048*512)
	f.Add(imagetest.EncodeSparse(f, disk))
	f.Fuzz(func(t *testing.T, data []byte) {
		im := imagetest.DecodeSparse(data)
		for _, n := range []int{0, 1, 2, 5} {
			v, err := Find(im, im.Size, n)
			if err != nil {
				continue
			}
			if v.Offset < 0 || v.Size <= 0 || v.Offset+v.Size > im.Size {
				t.Fatalf("Find(%d) = %+v in an image of %d bytes", n, v, im.Size)
			}
			res, err := Patch(im, im.Size, v, "X", time.Unix(0, 0))
			if err != nil {
				continue
			}
			checkExtents(t, res, im.Size)
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
