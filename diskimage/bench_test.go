package diskimage

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/internal/testreq"
)

// BenchmarkCacheFill measures what a station does once per image: decode
// the file named by $FLASHPIPE_BENCH_IMAGE into a new cache (sparse
// writes, the image's and the file's SHA-256, the final fsync) in the
// directory $FLASHPIPE_BENCH_OUT (default: a temporary one). It reports
// image MB per second and per CPU-second; bench/decompress.sh compares
// them with the formats' own CLIs on the same file.
func BenchmarkCacheFill(b *testing.B) {
	path := os.Getenv("FLASHPIPE_BENCH_IMAGE")
	if path == "" {
		testreq.SkipAllowed(b, testreq.BenchInput, "set FLASHPIPE_BENCH_IMAGE to an image file to measure decompression")
	}
	out := os.Getenv("FLASHPIPE_BENCH_OUT")
	if out == "" {
		out = b.TempDir()
	}
	src, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	var bytes int64
	var cpu time.Duration
	for b.Loop() {
		dir, err := os.MkdirTemp(out, "cache-")
		if err != nil {
			b.Fatal(err)
		}
		before := cpuUsed()
		c, err := OpenCache(dir)
		if err != nil {
			b.Fatal(err)
		}
		im, err := c.Get(src)
		if err != nil {
			b.Fatal(err)
		}
		m, err := im.Wait(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		im.Close()
		c.Close()
		cpu += cpuUsed() - before
		bytes += m.Size
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.ReportMetric(float64(bytes)/1e6/b.Elapsed().Seconds(), "MB/s")
	b.ReportMetric(float64(bytes)/1e6/cpu.Seconds(), "MB/cpu-s")
}

// cpuUsed is the process's user and system time so far.
func cpuUsed() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano()) + time.Duration(ru.Stime.Nano())
}
