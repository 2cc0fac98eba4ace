package manifest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
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
	for b.Loop() {
		if err := Hash(context.Background(), es, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScan measures Scan alone (stat and open of every file).
func BenchmarkScan(b *testing.B) {
	dir := os.Getenv("FLASHPIPE_BENCH_DIR")
	if dir == "" {
		b.Skip("set FLASHPIPE_BENCH_DIR to a content tree to measure Scan")
	}
	for b.Loop() {
		if _, err := Scan([]Source{{Paths: []string{dir}}}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
