//go:build linux

package executor

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/flashpipe/flashpipe/blockdev"
	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
	"golang.org/x/sys/unix"
)

// testPlan is a hand-made plan over a device of size bytes: an "mbr" Bytes
// extent, a "fat #1" Bytes extent at an unaligned offset, a small and a
// large (ZeroOut-sized) Zero extent, and files (one of 3 MiB, split into two
// FileData extents, and small ones at unaligned offsets).
type testPlan struct {
	plan  *fsimage.Plan
	files map[string]*fsimage.Entry
	src   string
}

func newTestPlan(t testing.TB, size int64, sectorSize int) *testPlan {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	tp := &testPlan{files: map[string]*fsimage.Entry{}, src: t.TempDir()}
	p := &fsimage.Plan{DeviceSize: size, SectorSize: sectorSize}
	randBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	mbr := randBytes(512)
	p.Extents = append(p.Extents,
		fsimage.Extent{Offset: 0, Length: 512, Kind: fsimage.Bytes, Data: mbr, What: "mbr"},
		fsimage.Extent{Offset: 512, Length: 40_000, Kind: fsimage.Zero, What: "gap zeros"},
		fsimage.Extent{Offset: 70_000, Length: 10_001, Kind: fsimage.Bytes, Data: randBytes(10_001), What: "fat #1"},
		fsimage.Extent{Offset: 100_000, Length: 5 << 20, Kind: fsimage.Zero, What: "fat #2 zeros"},
	)
	off := int64(6 << 20)
	for i, n := range []int{3 << 20, 1, 4095, 4097, 100_000} {
		name := fmt.Sprintf("dir/file%d.bin", i)
		e := tp.addFile(t, name, randBytes(n))
		if i == 0 { // two extents, as a fragmented file would have
			half := int64(n / 2)
			p.Extents = append(p.Extents,
				fsimage.Extent{Offset: off, Length: half, Kind: fsimage.FileData, Entry: e, What: name},
				fsimage.Extent{Offset: off + half, Length: int64(n) - half, Kind: fsimage.FileData, Entry: e, SourceOffset: half, What: name})
		} else {
			p.Extents = append(p.Extents, fsimage.Extent{Offset: off, Length: int64(n), Kind: fsimage.FileData, Entry: e, What: name})
		}
		p.Files = append(p.Files, fsimage.FileRun{Entry: e, Offset: off})
		off += int64(n) + 333 // unaligned, small gaps
	}
	p.Extents = append(p.Extents, fsimage.Extent{Offset: size - 16896, Length: 16896, Kind: fsimage.Bytes, Data: randBytes(16896), What: "gpt backup"})
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	tp.plan = p
	return tp
}

func (tp *testPlan) addFile(t testing.TB, name string, data []byte) *fsimage.Entry {
	src := filepath.Join(tp.src, filepath.Base(name))
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	e := &fsimage.Entry{Path: name, Source: src, Mode: 0o644, SHA1: sha1.Sum(data)}
	manifest.SetVersion(e, fi) // as Scan records it: Verify compares such a file with its source
	tp.files[name] = e
	return e
}

// loopDevice attaches a sparse backing file of size bytes and opens it.
func loopDevice(t *testing.T, size int64, sectorSize int) (*blockdev.Device, string) {
	t.Helper()
	looptest.Require(t)
	img := looptest.Sparse(t, t.TempDir(), size)
	path := looptest.Attach(t, img, sectorSize)
	d, err := blockdev.Open(path, blockdev.Options{})
	if err != nil {
		t.Fatalf("blockdev.Open(%s) = %v", path, err)
	}
	t.Cleanup(func() { d.Close() })
	return d, img
}

// imageDevice creates an image file of size bytes and opens it.
func imageDevice(t testing.TB, size int64) (*blockdev.Device, string) {
	t.Helper()
	return imageDeviceIn(t, t.TempDir(), size)
}

// imageDeviceIn is imageDevice with the image file in dir.
func imageDeviceIn(t testing.TB, dir string, size int64) (*blockdev.Device, string) {
	t.Helper()
	img := filepath.Join(dir, "target.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	d, err := blockdev.Open(img, blockdev.Options{})
	if err != nil {
		t.Fatalf("blockdev.Open(%s) = %v", img, err)
	}
	t.Cleanup(func() { d.Close() })
	return d, img
}

// sameAsReference checks that every extent of the plan reads back from
// the backing file exactly as fsimage.WriteImage lays it out.
func sameAsReference(t *testing.T, p *fsimage.Plan, backing string) {
	t.Helper()
	ref := filepath.Join(t.TempDir(), "ref.img")
	if err := imagetest.WriteExtents(ref, p.DeviceSize, p.Extents); err != nil {
		t.Fatalf("WriteImage = %v", err)
	}
	a, err := os.Open(ref)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := os.Open(backing)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, e := range p.Extents {
		x, y := make([]byte, e.Length), make([]byte, e.Length)
		if _, err := a.ReadAt(x, e.Offset); err != nil {
			t.Fatal(err)
		}
		if _, err := b.ReadAt(y, e.Offset); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("extent %s at %d differs from fsimage.WriteImage's", e.What, e.Offset)
		}
	}
}

// fill writes b over the whole of path (a device or file) so that stale
// content is visible if a step fails to overwrite it.
func fill(t *testing.T, path string, size int64, b byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(bytes.Repeat([]byte{b}, int(size))); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// pokeDirect overwrites one byte of a file with O_DIRECT (read-modify-write
// of the 4 KiB block around it), so that the file's page cache is not used.
func pokeDirect(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_DIRECT, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := blockdev.AlignedBuffer(blockdev.Align)
	base := off &^ (blockdev.Align - 1)
	if _, err := f.ReadAt(buf, base); err != nil {
		t.Fatal(err)
	}
	buf[off-base] ^= 0xff
	if _, err := f.WriteAt(buf, base); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}
