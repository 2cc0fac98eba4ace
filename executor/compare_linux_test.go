//go:build linux

package executor

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
)

// TestVerifyComparesFileWithSource flips one byte of a file run on the
// stick. A source whose stat shows the entry's version is compared with
// the stick byte for byte, and the failure names the byte; one whose
// version the entry does not record is checked by SHA1 as before.
func TestVerifyComparesFileWithSource(t *testing.T) {
	for _, compared := range []bool{true, false} {
		t.Run(fmt.Sprintf("compared=%v", compared), func(t *testing.T) {
			dev, backing := loopDevice(t, devSize, 512)
			tp := newTestPlan(t, devSize, 512)
			run := tp.plan.Files[0] // 3 MiB in two extents
			if !compared {
				run.Entry.ChangeTime = time.Time{}
			}
			if _, err := Write(context.Background(), dev, tp.plan, Options{}); err != nil {
				t.Fatalf("Write = %v", err)
			}
			at := run.Entry.Size/2 + 12345
			pokeDirect(t, backing, run.Offset+at)
			res, err := Verify(context.Background(), dev, tp.plan, Options{BufferSize: 1 << 20})
			if err != nil {
				t.Fatalf("Verify = %v", err)
			}
			if res.OK || len(res.FailedFiles) != 1 || res.FailedFiles[0].Path != run.Entry.Path || len(res.Metadata) != 0 {
				t.Fatalf("Verify after flipping byte %d of %s = %+v, want only %s failed", at, run.Entry.Path, res, run.Entry.Path)
			}
			f := res.FailedFiles[0]
			want := receiptsFailed(run.Entry, compared, at)
			if f.Want != want.Want || f.Err != want.Err || (f.Got == "") == !compared {
				t.Errorf("failed file = %+v, want %+v (a got_sha1 only when hashed)", f, want)
			}
			if res.Files != len(tp.plan.Files) {
				t.Errorf("Verify checked %d files, want %d", res.Files, len(tp.plan.Files))
			}
		})
	}
}

func receiptsFailed(e *fsimage.Entry, compared bool, at int64) (f struct{ Want, Err string }) {
	f.Want = hex.EncodeToString(e.SHA1[:])
	if compared {
		f.Err = fmt.Sprintf("byte %d differs from the source", at)
	}
	return f
}

// TestVerifySourceChangedWhileCompared changes a source (same size and
// modification time, one byte flipped) while Verify compares the stick
// with it. The stick holds the old content and the source the new; the
// file fails as a source that changed, not as a corrupt stick and not as a
// pass.
func TestVerifySourceChangedWhileCompared(t *testing.T) {
	dev, _ := imageDevice(t, devSize)
	tp := newTestPlan(t, devSize, 512)
	run := tp.plan.Files[0]
	if _, err := Write(context.Background(), dev, tp.plan, Options{}); err != nil {
		t.Fatalf("Write = %v", err)
	}
	before := int64(0) // bytes Verify checks before the file run starts
	for _, c := range verifyChecks(tp.plan) {
		if c.off < run.Offset {
			before += c.end - c.off
		}
	}
	changed := false
	opts := Options{BufferSize: 1 << 20, ProgressInterval: time.Nanosecond, Progress: func(p Progress) {
		if !changed && p.Done > before && p.Done < before+run.Entry.Size {
			changed = true
			flipSource(t, run.Entry, run.Entry.Size-1) // a byte not compared yet
		}
	}}
	res, err := Verify(context.Background(), dev, tp.plan, opts)
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if !changed {
		t.Fatal("no progress report came while the file run was compared")
	}
	if res.OK || len(res.FailedFiles) != 1 || !strings.Contains(res.FailedFiles[0].Err, "the source changed while it was compared") {
		t.Errorf("Verify with the source changed under it = %+v, want %s failed as a changed source", res, run.Entry.Path)
	}
}

// flipSource flips one byte of e's source and sets its modification time
// back, so that only its change time shows the write.
func flipSource(t *testing.T, e *fsimage.Entry, off int64) {
	t.Helper()
	b, err := os.ReadFile(e.Source)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 1
	if err := os.WriteFile(e.Source, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(e.Source, e.ModTime, e.ModTime); err != nil {
		t.Fatal(err)
	}
}

// hashedPlan is a plan of one 16 MiB source file whose SHA1 a cache holds,
// as a station's is.
func hashedPlan(t *testing.T) (*testPlan, *manifest.Cache) {
	t.Helper()
	tp := &testPlan{files: map[string]*fsimage.Entry{}, src: t.TempDir()}
	data := make([]byte, 16<<20)
	for i := range data {
		data[i] = byte(i * 7 / 4096)
	}
	e := tp.addFile(t, "big.bin", data)
	tp.plan = &fsimage.Plan{DeviceSize: devSize, SectorSize: 512,
		Extents: []fsimage.Extent{{Offset: 1 << 20, Length: e.Size, Kind: fsimage.FileData, Entry: e, What: e.Path}},
		Files:   []fsimage.FileRun{{Entry: e, Offset: 1 << 20}}}
	cache := manifest.NewCache()
	if err := manifest.Hash(context.Background(), []*fsimage.Entry{e}, cache, nil); err != nil {
		t.Fatal(err)
	}
	if !cache.Holds(e) {
		t.Fatal("cache does not hold the sum Hash took")
	}
	return tp, cache
}

// TestWriteUnhashedSourceChangedMidWrite: a source the cache holds the sum
// of is not hashed again by Write, so a change to it while it is copied
// must show in stat: the stick it reached fails naming it. The change is
// made after Write read the first two of its sixteen MiB.
func TestWriteUnhashedSourceChangedMidWrite(t *testing.T) {
	dev, _ := imageDevice(t, devSize)
	tp, cache := hashedPlan(t)
	e := tp.plan.Files[0].Entry
	changed := false
	opts := Options{BufferSize: 1 << 20, Hashes: cache, ProgressInterval: time.Nanosecond, Progress: func(p Progress) {
		if !changed && p.Done >= 2<<20 {
			changed = true
			flipSource(t, e, 1<<20) // a byte already written: only stat can tell
		}
	}}
	_, err := Write(context.Background(), dev, tp.plan, opts)
	var se *SourceError
	if !changed || !errors.As(err, &se) || se.Path != e.Path || !strings.Contains(se.Reason, "modified while it was being copied") {
		t.Errorf("Write with the source changed mid-copy = %v (changed: %v), want a *SourceError naming %s as modified while copied", err, changed, e.Path)
	}
}

// TestWriteUnhashedSourceChangedBefore: a source changed after it was
// hashed and before Write opens it fails, whatever stat shows changed.
func TestWriteUnhashedSourceChangedBefore(t *testing.T) {
	for name, change := range map[string]func(t *testing.T, e *fsimage.Entry){
		"same size and mtime": func(t *testing.T, e *fsimage.Entry) { flipSource(t, e, 5) },
		"replaced by a copy": func(t *testing.T, e *fsimage.Entry) {
			b, _ := os.ReadFile(e.Source)
			os.Remove(e.Source)
			if err := os.WriteFile(e.Source, b, 0o644); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(e.Source, e.ModTime, e.ModTime)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dev, _ := imageDevice(t, devSize)
			tp, cache := hashedPlan(t)
			e := tp.plan.Files[0].Entry
			change(t, e)
			_, err := Write(context.Background(), dev, tp.plan, Options{Hashes: cache})
			var se *SourceError
			if !errors.As(err, &se) || se.Path != e.Path || !strings.Contains(se.Reason, "changed since it was scanned") {
				t.Errorf("Write after the source changed = %v, want a *SourceError naming %s", err, e.Path)
			}
		})
	}
}
