// Command exec benchmarks the executor on many sticks at once: it scans and
// hashes a source tree once, compiles one plan per device, then on every
// device in parallel runs Wipe(quick), Write and Verify, and prints timings.
//
//	exec gen -dir DIR -files N -bytes B     make a random source tree
//	exec run -src DIR -devs /dev/loop0,... [-fs vfat] [-table mbr]
//
// run.sh next to it sets up throttled loop devices and the baseline.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/flashpipe/flashpipe/blockdev"
	"github.com/flashpipe/flashpipe/executor"
	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/compile"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: exec gen|run [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "run":
		err = run(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "exec:", err)
		os.Exit(1)
	}
}

// gen writes files of random size (uniform around bytes/files) in
// directories of 100 files.
func gen(args []string) error {
	fl := flag.NewFlagSet("gen", flag.ExitOnError)
	dir := fl.String("dir", "", "directory to create")
	files := fl.Int("files", 20000, "number of files")
	total := fl.Int64("bytes", 300e6, "total bytes")
	fl.Parse(args)
	rng := rand.New(rand.NewPCG(7, 8))
	avg := *total / int64(*files)
	buf := make([]byte, 2*avg+1)
	var written int64
	for i := range *files {
		n := *total - written
		if i < *files-1 {
			n = min(n, 1+rng.Int64N(2*avg))
		}
		if int64(len(buf)) < n {
			buf = make([]byte, n)
		}
		for j := 0; j < int(n); j += 8 {
			v := rng.Uint64()
			for k := 0; k < 8 && j+k < int(n); k++ {
				buf[j+k] = byte(v >> (8 * k))
			}
		}
		p := filepath.Join(*dir, fmt.Sprintf("dir%03d", i/100), fmt.Sprintf("file %05d.bin", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, buf[:n], 0o644); err != nil {
			return err
		}
		written += n
	}
	return nil
}

type result struct {
	dev                 string
	wipe, write, verify time.Duration
	written, verified   int64
	io                  int64
	ok                  bool
	err                 error
}

func run(args []string) error {
	fl := flag.NewFlagSet("run", flag.ExitOnError)
	src := fl.String("src", "", "source tree")
	devs := fl.String("devs", "", "comma-separated devices")
	fs := fl.String("fs", "vfat", "filesystem")
	table := fl.String("table", "mbr", "partition table")
	fl.Parse(args)
	start := time.Now()
	entries, err := manifest.Scan([]manifest.Source{{Paths: []string{*src}}}, manifest.Options{Now: start})
	if err != nil {
		return err
	}
	if err := manifest.Hash(context.Background(), entries, nil, nil); err != nil {
		return err
	}
	tScan := time.Since(start)
	paths := strings.Split(*devs, ",")
	res := make([]result, len(paths))
	var compileTime time.Duration
	var mu sync.Mutex
	var wg sync.WaitGroup
	t0 := time.Now()
	for i, p := range paths {
		wg.Go(func() {
			res[i] = stick(p, uint32(i+1), entries, *fs, *table, func(d time.Duration) {
				mu.Lock()
				compileTime = max(compileTime, d)
				mu.Unlock()
			})
		})
	}
	wg.Wait()
	wall := time.Since(t0)
	fmt.Printf("scan+hash %.2fs (%d entries), compile max %.2fs\n", tScan.Seconds(), len(entries), compileTime.Seconds())
	var failed bool
	for _, r := range res {
		fmt.Printf("%s wipe %.2fs write %.2fs (plan %.1f MB, sent %.1f MB) verify %.2fs (%.1f MB read) ok=%v err=%v\n", r.dev,
			r.wipe.Seconds(), r.write.Seconds(), float64(r.written)/1e6, float64(r.io)/1e6, r.verify.Seconds(), float64(r.verified)/1e6, r.ok, r.err)
		failed = failed || !r.ok
	}
	fmt.Printf("RESULT sticks=%d wall=%.2fs written_per_stick_MB=%.1f verified_per_stick_MB=%.1f\n",
		len(paths), wall.Seconds(), float64(res[0].written)/1e6, float64(res[0].verified)/1e6)
	if failed {
		return fmt.Errorf("some sticks failed")
	}
	return nil
}

func stick(path string, serial uint32, entries []*fsimage.Entry, fs, table string, compiled func(time.Duration)) (r result) {
	r.dev = path
	dev, err := blockdev.Open(path, blockdev.Options{})
	if err != nil {
		r.err = err
		return r
	}
	defer dev.Close()
	t := time.Now()
	plan, err := compile.Build(compile.Spec{Table: table, FS: fs, Label: "BENCH", Serial: serial, Entries: entries, Now: t},
		dev.Size, dev.LogicalSectorSize)
	compiled(time.Since(t))
	if err != nil {
		r.err = err
		return r
	}
	ctx := context.Background()
	t = time.Now()
	if r.err = executor.Wipe(ctx, dev, executor.WipeQuick, 0, nil); r.err != nil {
		return r
	}
	r.wipe = time.Since(t)
	t = time.Now()
	st, err := executor.Write(ctx, dev, plan, executor.Options{})
	r.write, r.written, r.io = time.Since(t), st.Bytes, st.Written+st.Zeroed
	if r.err = err; err != nil {
		return r
	}
	t = time.Now()
	v, err := executor.Verify(ctx, dev, plan, executor.Options{})
	r.verify, r.verified, r.ok, r.err = time.Since(t), v.Bytes, v.OK && err == nil, err
	return r
}
