package fsimage_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/fsimage"
)

// source is a DataSource whose bytes differ at offsets that differ in
// any of their low 16 bits.
type source struct{}

func (source) ReadAtContext(_ context.Context, p []byte, off int64) (int, error) {
	for i := range p {
		x := off + int64(i)
		p[i] = byte(x*7 ^ x>>8*31)
	}
	return len(p), nil
}

// render returns the device bytes [0, size) the extents give, 0xEE where
// none does.
func render(t *testing.T, xs []fsimage.Extent, size int64) []byte {
	t.Helper()
	out := bytes.Repeat([]byte{0xEE}, int(size))
	for _, e := range xs {
		switch e.Kind {
		case fsimage.Bytes:
			copy(out[e.Offset:], e.Data)
		case fsimage.ReaderData:
			if _, err := e.Reader.ReadAtContext(context.Background(), out[e.Offset:e.End()], e.SourceOffset); err != nil {
				t.Fatal(err)
			}
		case fsimage.Zero:
			clear(out[e.Offset:e.End()])
		}
	}
	return out
}

// TestOverlay lays patches over image extents (read from a source at an
// offset), a Bytes extent and a Zero extent: patches inside an extent,
// across two, at an extent's edges and where no extent is. The device
// then holds the patches' bytes where they are and the extents' bytes
// everywhere else, and the result is a valid plan.
func TestOverlay(t *testing.T) {
	const size = 4096
	extents := []fsimage.Extent{
		{Offset: 0, Length: 1024, Kind: fsimage.ReaderData, Reader: source{}, SourceOffset: 100, What: "image a"},
		{Offset: 1024, Length: 1024, Kind: fsimage.Bytes, Data: bytes.Repeat([]byte{1}, 1024), What: "bytes"},
		{Offset: 2048, Length: 512, Kind: fsimage.Zero, What: "zero"},
		{Offset: 3072, Length: 512, Kind: fsimage.ReaderData, Reader: source{}, SourceOffset: 3072, What: "image b"},
	}
	patch := func(off, n int64, c byte) fsimage.Extent {
		return fsimage.Extent{Offset: off, Length: n, Kind: fsimage.Bytes, Data: bytes.Repeat([]byte{c}, int(n)), What: "patch"}
	}
	patches := []fsimage.Extent{patch(0, 512, 0xA1), patch(768, 512, 0xA2), patch(2560, 256, 0xA3), patch(3584-512, 512, 0xA4)}
	want := render(t, extents, size)
	for _, p := range patches {
		copy(want[p.Offset:], p.Data)
	}
	got, err := fsimage.Overlay(extents, patches)
	if err != nil {
		t.Fatalf("Overlay error = %v", err)
	}
	if err := (&fsimage.Plan{DeviceSize: size, Extents: got}).Check(); err != nil {
		t.Fatalf("Overlay gave an invalid plan: %v", err)
	}
	if g := render(t, got, size); !bytes.Equal(g, want) {
		t.Errorf("Overlay(...) renders differently from the extents with the patches laid over them")
	}
	if n := len(got); n != 7 {
		t.Errorf("len(Overlay) = %d, want 7 (the four patches, and what is left of image a, the bytes and the zero extent)", n)
	}
}

// TestOverlayRefusesOverlaps: patches that overlap each other are a
// program bug reported as an error.
func TestOverlayRefusesOverlaps(t *testing.T) {
	p := fsimage.Extent{Offset: 0, Length: 512, Kind: fsimage.Bytes, Data: make([]byte, 512), What: "p"}
	q := p
	q.Offset = 256
	if _, err := fsimage.Overlay(nil, []fsimage.Extent{p, q}); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Errorf("Overlay(overlapping patches) error = %v, want overlaps", err)
	}
}
