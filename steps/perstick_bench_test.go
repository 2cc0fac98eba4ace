package steps_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/steps"
)

// BenchmarkPerStickPrepare1000Files measures what a stick of a profile
// with 1,000 generated files costs before its write: evaluating the file
// steps for the stick, writing their sources and compiling its plan (the
// shared content's hashes come from the cache, as from the second stick
// on). It reports that time as a share of the time the same plan takes
// to write (to an image file on this machine's disk, faster than any
// stick, so the share is an upper bound): %write.
func BenchmarkPerStickPrepare1000Files(b *testing.B) {
	const files, sharedMiB, size = 1000, 256, 1 << 30
	dir := b.TempDir()
	content := filepath.Join(dir, "content")
	os.MkdirAll(content, 0o755)
	big := make([]byte, 1<<20)
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < sharedMiB; i++ {
		rng.Read(big)
		os.WriteFile(filepath.Join(content, fmt.Sprintf("part%03d.bin", i)), big, 0o644)
	}
	var src strings.Builder
	fmt.Fprintf(&src, "source \"c\" { paths = [%q] }\nprofile \"p\" {\n  step \"partition\" {}\n  step \"mkfs\" { type = \"vfat\" }\n  step \"copy\" { sources = [source.c] }\n", content)
	for i := 0; i < files; i++ {
		fmt.Fprintf(&src, "  step \"file\" {\n    path    = \"/gen/f%04d.txt\"\n    content = \"${device.serial} ${job.seq} %d ${uuid()}\\n\"\n  }\n", i, i)
	}
	src.WriteString("  step \"verify\" {}\n}\n")
	cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadSource(filepath.Join(dir, "t.hcl"), []byte(src.String()))
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	img := filepath.Join(dir, "stick.img")
	os.WriteFile(img, nil, 0o644)
	os.Truncate(img, size)
	job := func(seq int) *pipeline.Job {
		return &pipeline.Job{Seq: seq, Config: cfg, Profile: cfg.Profiles[0], Target: img, Now: time.Now(),
			Device: &matchers.Device{Name: "sdb", Serial: fmt.Sprintf("SER%06d", seq), Bus: "usb", Size: size}}
	}
	ctx := context.Background()
	w := cfg.Profiles[0].Stages[0].Runner
	// The first stick hashes the content and is written, for the write time.
	j := job(1)
	if err := w.(pipeline.Preparer).Prepare(ctx, j); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := w.Run(ctx, j); err != nil {
		b.Fatal(err)
	}
	write := time.Since(start)
	j.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := job(i + 2)
		if err := w.(pipeline.Preparer).Prepare(ctx, j); err != nil {
			b.Fatal(err)
		}
		if n := len(j.Plan.Files); n < files+sharedMiB {
			b.Fatalf("plan has %d file runs, want %d", n, files+sharedMiB)
		}
		j.Close()
	}
	b.StopTimer()
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(per)/float64(write)*100, "%write")
	b.ReportMetric(write.Seconds(), "write-s")
}
