package manifest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/internal/testreq"
)

// BenchmarkHash measures Hash over the tree named by $FLASHPIPE_BENCH_DIR
// (or a 256 MiB tree made in a temporary directory), without a cache, on
// every core. Compare its MB/s with sha1sum over the same files.
func BenchmarkHash(b *testing.B) {
	dir := os.Getenv("FLASHPIPE_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
		buf := make([]byte, 1<<20)
		for i := 0; i < 256; i++ {
			rand.Read(buf)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", i)), buf[:(1<<20)-i*997], 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	es, err := Scan([]Source{{Paths: []string{dir}}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, e := range es {
		total += e.Size
	}
	b.SetBytes(total)
	start, n := cpuTime(), 0
	for b.Loop() {
		if err := Hash(context.Background(), es, nil, nil); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportCPU(b, start, total, n)
}

// BenchmarkScan measures Scan alone (stat and open of every file).
func BenchmarkScan(b *testing.B) {
	dir := os.Getenv("FLASHPIPE_BENCH_DIR")
	if dir == "" {
		testreq.SkipAllowed(b, testreq.BenchInput, "set FLASHPIPE_BENCH_DIR to a content tree to measure Scan")
	}
	for b.Loop() {
		if _, err := Scan([]Source{{Paths: []string{dir}}}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime returns the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports bytes per CPU second over n runs since start: unlike
// MB/s it hardly depends on what else the machine runs.
func reportCPU(b *testing.B, start time.Duration, bytes int64, n int) {
	if cpu := cpuTime() - start; cpu > 0 {
		b.ReportMetric(float64(bytes)*float64(n)/1e6/cpu.Seconds(), "MB/cpu-s")
	}
}
