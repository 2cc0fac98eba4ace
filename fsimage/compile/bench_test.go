package compile

import (
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
	"golang.org/x/sys/unix"
)

// syntheticEntries returns n files in n/100 directories totalling about
// total bytes. Their sources are not read: planning vfat and exfat reads no
// file data.
func syntheticEntries(n int, total int64) []*fsimage.Entry {
	var es []*fsimage.Entry
	dirs := max(n/100, 1)
	per := total / int64(n)
	for d := 0; d < dirs; d++ {
		dir := fmt.Sprintf("album %03d", d)
		es = append(es, &fsimage.Entry{Path: dir, Dir: true, Mode: fs.ModeDir | 0o755, ModTime: now})
		for f := 0; f < n/dirs; f++ {
			size := per/2 + int64((d*7919+f*104729)%int(per)) // per/2 .. 3per/2, mean ≈ per
			es = append(es, &fsimage.Entry{Path: fmt.Sprintf("%s/Photo %05d with a long name.jpg", dir, f),
				Source: "/nonexistent", Size: size, Mode: 0o644, ModTime: now})
		}
	}
	return es
}

// BenchmarkPlan measures building the plan (partition table and
// filesystem metadata, no file data) for 20,000 files and 5 GB on a 16 GiB
// stick. heap-MB is the live heap after building, with the plan held.
func BenchmarkPlan(b *testing.B) {
	es := syntheticEntries(20_000, 5e9)
	for _, fsName := range []string{"vfat", "exfat"} {
		b.Run(fsName, func(b *testing.B) {
			b.ReportAllocs()
			var plan *fsimage.Plan
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start, n := cpuTime(), 0
			for b.Loop() {
				n++
				var err error
				plan, err = Build(Spec{Table: "mbr", FS: fsName, Label: "BENCH", Serial: 1, Entries: es, Now: now}, 16<<30, 512)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric((cpuTime()-start).Seconds()/float64(n), "cpu-s/op")
			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/1e6, "heap-MB")
			b.ReportMetric(float64(len(plan.Extents)), "extents")
			runtime.KeepAlive(plan)
		})
	}
}

// benchContent returns a hashed manifest of the tree named by
// $FLASHPIPE_BENCH_DIR, or of a 256 MiB tree made in a temporary
// directory when it is unset.
func benchContent(b *testing.B) ([]*fsimage.Entry, int64, string) {
	b.Helper()
	dir := os.Getenv("FLASHPIPE_BENCH_DIR")
	out := os.Getenv("FLASHPIPE_BENCH_OUT")
	if dir == "" {
		dir = b.TempDir()
		buf := make([]byte, 1<<20)
		for i := 0; i < 256; i++ {
			rand.Read(buf)
			sub := filepath.Join(dir, fmt.Sprintf("d%02d", i%16))
			os.MkdirAll(sub, 0o755)
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%03d.bin", i)), buf[:(1<<20)-i*997], 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	if out == "" {
		out = b.TempDir()
	}
	es, err := manifest.Scan([]manifest.Source{{Paths: []string{dir}}}, manifest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := manifest.Hash(context.Background(), es, nil, nil); err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, e := range es {
		total += e.Size
	}
	return es, total, out
}

// BenchmarkWriteImage measures fsimage.WriteImagePlan writing an exFAT
// and a FAT32 plan of the content into an image file (SetBytes is the
// content size, so MB/s compares with cp of the same files). The image is
// written to $FLASHPIPE_BENCH_OUT, on the same disk as the content for a
// fair comparison with cp. Removing the previous image and committing the
// filesystem (syncfs) happen outside the timer and the CPU count, as
// bench/fsimage.sh does for cp, so neither pays for the previous run.
func BenchmarkWriteImage(b *testing.B) {
	es, total, out := benchContent(b)
	for _, fsName := range []string{"exfat", "vfat"} {
		b.Run(fsName, func(b *testing.B) {
			devSize := max(total+total/4+64<<20, 256<<20)
			plan, err := Build(Spec{Table: "mbr", FS: fsName, Label: "BENCH", Serial: 1, Entries: es, Now: now}, devSize, 512)
			if err != nil {
				b.Fatal(err)
			}
			img := filepath.Join(out, "bench.img")
			defer os.Remove(img)
			b.SetBytes(total)
			var cpu time.Duration
			n := 0
			for b.Loop() {
				b.StopTimer()
				os.Remove(img)
				syncFS(b, out)
				b.StartTimer()
				start := cpuTime()
				if err := fsimage.WriteImagePlan(context.Background(), plan, img, nil); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - start
				n++
			}
			if cpu > 0 {
				b.ReportMetric(float64(total)*float64(n)/1e6/cpu.Seconds(), "MB/cpu-s")
			}
		})
	}
}

// syncFS commits the filesystem holding dir (syncfs(2)).
func syncFS(b *testing.B, dir string) {
	d, err := os.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		b.Fatalf("syncfs %s: %v", dir, err)
	}
}

// BenchmarkMinDeviceSize measures the layout search `validate` runs for a
// profile with a minimum size, for 20,000 files / 5 GB.
func BenchmarkMinDeviceSize(b *testing.B) {
	es := syntheticEntries(20_000, 5e9)
	for _, fsName := range []string{"vfat", "exfat"} {
		b.Run(fsName, func(b *testing.B) {
			for b.Loop() {
				n, err := MinDeviceSize(Spec{Table: "gpt", FS: fsName, Entries: es, Now: now}, 512)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(n)/1e9, "min-GB")
			}
		})
	}
}

// cpuTime returns the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
