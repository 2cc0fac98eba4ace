package relabel

import (
	"os"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage/imagetest"
)

// Shorthands for the shared test helpers.
var (
	mkfs  = imagetest.Mkfs
	place = imagetest.Place
)

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	return imagetest.Run(t, "", name, args...)
}

// labelImage runs Find and Patch on the image file img for partition n
// and writes the result into img; it returns the volume and the result.
func labelImage(t testing.TB, img string, n int, label string) (*Volume, *Result) {
	t.Helper()
	f, size := imagetest.OpenImage(t, img)
	v, err := Find(f, size, n)
	if err != nil {
		t.Fatalf("Find(%s, %d) error = %v", img, n, err)
	}
	res, err := Patch(f, size, v, label, time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatalf("Patch(%s, %v, %q) error = %v", img, v, label, err)
	}
	checkExtents(t, res, size)
	for _, e := range res.Extents {
		if _, err := f.WriteAt(e.Data, e.Offset); err != nil {
			t.Fatal(err)
		}
	}
	return v, res
}

// checkExtents fails t unless the result's extents are sorted, apart,
// whole 512-byte sectors inside the image.
func checkExtents(t testing.TB, res *Result, size int64) {
	t.Helper()
	var prev int64
	for i, e := range res.Extents {
		if e.Offset < prev || e.Offset%512 != 0 || e.Length%512 != 0 || e.Length == 0 ||
			int64(len(e.Data)) != e.Length || e.End() > size {
			t.Fatalf("Extents[%d] = %s at %d (%d bytes, %d of data) after %d in an image of %d: want sorted whole sectors inside it",
				i, e.What, e.Offset, e.Length, len(e.Data), prev, size)
		}
		prev = e.End()
	}
}

// fsck extracts the volume of img and runs its filesystem's checker.
func fsck(t testing.TB, img string, v *Volume) {
	t.Helper()
	part := imagetest.Extract(t, img, v.Offset, v.Size)
	defer os.Remove(part)
	imagetest.Fsck(t, v.Rules(), part)
}
