package fsimage

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// source writes data to a file and returns its entry, with SHA1 set.
func sourceEntry(t *testing.T, name string, data []byte) *Entry {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	return &Entry{Path: name, Source: p, Size: int64(len(data)), Mode: 0o644, ModTime: fi.ModTime(), SHA1: sha1.Sum(data)}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ seed
	}
	return b
}

// testPlan mixes every kind of extent: small adjacent Bytes, gaps shorter
// and longer than the gap fill, a file larger than a chunk, a file split
// into two extents written out of order, and a Zero run.
func testPlan(t *testing.T) (*Plan, []byte) {
	const size = 24 << 20
	big := sourceEntry(t, "big", pattern(9<<20+123, 1))
	split := sourceEntry(t, "split", pattern(100_000, 2))
	small := sourceEntry(t, "small", []byte("tiny"))
	p := &Plan{DeviceSize: size, SectorSize: 512, Extents: []Extent{
		{Offset: 0, Length: 512, Kind: Bytes, Data: pattern(512, 3), What: "mbr"},
		{Offset: 512, Length: 512, Kind: Bytes, Data: pattern(512, 4), What: "next"},
		{Offset: 4096, Length: 4, Kind: FileData, Entry: small, What: "small"},
		{Offset: 8192, Length: 1 << 20, Kind: Zero, What: "zeros"},
		{Offset: 2 << 20, Length: big.Size, Kind: FileData, Entry: big, What: "big"},
		{Offset: 12 << 20, Length: 60_000, Kind: FileData, Entry: split, SourceOffset: 40_000, What: "split tail"},
		{Offset: 12<<20 + 70_000, Length: 40_000, Kind: FileData, Entry: split, SourceOffset: 0, What: "split head"},
		{Offset: 20 << 20, Length: 3 << 20, Kind: Zero, What: "more zeros"},
		{Offset: size - 512, Length: 512, Kind: Bytes, Data: pattern(512, 5), What: "last"},
	}}
	want := make([]byte, size)
	for _, x := range p.Extents {
		switch x.Kind {
		case Bytes:
			copy(want[x.Offset:], x.Data)
		case FileData:
			data, _ := os.ReadFile(x.Entry.Source)
			copy(want[x.Offset:], data[x.SourceOffset:x.SourceOffset+x.Length])
		}
	}
	return p, want
}

func TestWriteImagePlan(t *testing.T) {
	for _, inMemory := range []bool{false, true} {
		t.Run(map[bool]string{false: "kernel copy", true: "in memory"}[inMemory], func(t *testing.T) {
			defer func(old bool) { copyInMemory = old }(copyInMemory)
			copyInMemory = inMemory
			testWriteImagePlan(t)
		})
	}
}

func testWriteImagePlan(t *testing.T) {
	p, want := testPlan(t)
	img := filepath.Join(t.TempDir(), "out.img")
	var last int64
	err := WriteImagePlan(context.Background(), p, img, func(done, total int64) {
		if done < last || total != p.Bytes() {
			t.Errorf("progress(%d, %d) after %d, want increasing to %d", done, total, last, p.Bytes())
		}
		last = done
	})
	if err != nil {
		t.Fatalf("WriteImagePlan() error = %v", err)
	}
	if last != p.Bytes() {
		t.Errorf("progress ended at %d, want %d", last, p.Bytes())
	}
	got, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("image size = %d, want %d", len(got), len(want))
	}
	for _, x := range p.Extents {
		if !bytes.Equal(got[x.Offset:x.End()], want[x.Offset:x.End()]) {
			t.Errorf("image bytes of %s [%d, %d) differ from the plan", x.What, x.Offset, x.End())
		}
	}
	var st syscall.Stat_t
	syscall.Stat(img, &st)
	if used := st.Blocks * 512; used > 14<<20 {
		t.Errorf("image uses %d bytes on disk, want a sparse file (≤ 14 MiB of 24 MiB)", used)
	}
	if _, err := os.Stat(img + ".part"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stat(%s.part) = %v, want it gone", img, err)
	}
}

func TestWriteImagePlanRefusesChangedSources(t *testing.T) {
	cases := []struct {
		name   string
		change func(e *Entry)
		want   string
	}{
		{"same size and time, other bytes", func(e *Entry) {
			data := pattern(int(e.Size), 1)
			data[5<<20] ^= 0xFF
			os.WriteFile(e.Source, data, 0o644)
			os.Chtimes(e.Source, e.ModTime, e.ModTime)
		}, "SHA1"},
		{"grown", func(e *Entry) {
			f, _ := os.OpenFile(e.Source, os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte("more"))
			f.Close()
			os.Chtimes(e.Source, e.ModTime, e.ModTime)
		}, "size"},
		{"touched", func(e *Entry) {
			later := e.ModTime.Add(time.Minute)
			os.Chtimes(e.Source, later, later)
		}, "modified"},
		{"removed", func(e *Entry) { os.Remove(e.Source) }, "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, _ := testPlan(t)
			big := p.Extents[4].Entry
			c.change(big)
			img := filepath.Join(t.TempDir(), "out.img")
			os.WriteFile(img, []byte("previous image"), 0o644)
			err := WriteImagePlan(context.Background(), p, img, nil)
			if err == nil || !strings.Contains(err.Error(), big.Source) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("WriteImagePlan() error = %v, want one naming %s and %q", err, big.Source, c.want)
			}
			if got, _ := os.ReadFile(img); string(got) != "previous image" {
				t.Errorf("after a failed write, %s holds %d bytes, want the previous image untouched", img, len(got))
			}
			if _, err := os.Stat(img + ".part"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Stat(%s.part) = %v, want it removed", img, err)
			}
		})
	}
}

func TestWriteImagePlanCancel(t *testing.T) {
	p, _ := testPlan(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	img := filepath.Join(t.TempDir(), "out.img")
	if err := WriteImagePlan(ctx, p, img, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteImagePlan(cancelled) error = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(img); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stat(%s) = %v, want no image", img, err)
	}
}

func TestWriteImagePlanRejectsBadPlan(t *testing.T) {
	p := &Plan{DeviceSize: 1024, Extents: []Extent{{Offset: 512, Length: 1024, Kind: Zero, What: "too long"}}}
	if err := WriteImagePlan(context.Background(), p, filepath.Join(t.TempDir(), "x"), nil); err == nil {
		t.Errorf("WriteImagePlan(extent past the end) error = nil, want an error")
	}
}

// TestWriteImagePlanSparseSource copies a source with holes: the image
// holds its bytes, and its holes stay holes in the image. The file ends
// past 64 MiB, so the background writeback and fsync run too.
func TestWriteImagePlanSparseSource(t *testing.T) {
	const size, fileSize = 160 << 20, 48 << 20
	src := filepath.Join(t.TempDir(), "sparse")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	marks := map[int64][]byte{0: pattern(4096, 7), 20 << 20: pattern(100_000, 8), fileSize - 4096: pattern(4096, 9)}
	for off, b := range marks {
		f.WriteAt(b, off)
	}
	f.Truncate(fileSize)
	f.Close()
	data, _ := os.ReadFile(src)
	fi, _ := os.Stat(src)
	e := &Entry{Path: "sparse", Source: src, Size: fileSize, ModTime: fi.ModTime(), SHA1: sha1.Sum(data)}
	const at = 100 << 20
	p := &Plan{DeviceSize: size, SectorSize: 512, Extents: []Extent{
		{Offset: 0, Length: 512, Kind: Bytes, Data: pattern(512, 3), What: "mbr"},
		{Offset: at, Length: fileSize, Kind: FileData, Entry: e, What: "sparse"},
	}}
	img := filepath.Join(t.TempDir(), "out.img")
	if err := WriteImagePlan(context.Background(), p, img, nil); err != nil {
		t.Fatalf("WriteImagePlan() error = %v", err)
	}
	got, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[at:at+fileSize], data) {
		t.Errorf("the image's copy of the sparse file differs from it")
	}
	var st syscall.Stat_t
	syscall.Stat(img, &st)
	if used := st.Blocks * 512; used > 4<<20 {
		t.Errorf("image uses %d bytes on disk for a source with 108 KB of data, want its holes kept", used)
	}
}
