package main

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"github.com/flashpipe/flashpipe/units"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/station"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/spf13/cobra"
)

//go:embed demo.hcl
var demoConfig []byte

// demoStick is one virtual stick of the demo.
type demoStick struct {
	file    string
	size    int64
	profile string
}

func newDemoCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "See flashpipe work without sticks or root: three virtual sticks",
		Long: `demo makes three virtual sticks (image files of different sizes), runs an
embedded demo station on them with the live table, verifies them and prints
their receipts. The third stick is too small for its content, so its failure
shows too. Afterwards it says where the images are and how to look inside.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd, dir)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "where to put the images and content (default: a new temporary folder)")
	return cmd
}

func runDemo(cmd *cobra.Command, dir string) error {
	out := cmd.OutOrStdout()
	if dir == "" {
		d, err := os.MkdirTemp("", "flashpipe-demo-")
		if err != nil {
			return err
		}
		dir = d
	}
	content := filepath.Join(dir, "content")
	if err := makeDemoContent(content); err != nil {
		return err
	}
	l := pipeline.NewLoader(steps.Builtin())
	l.Vars = map[string]string{"content": content}
	cfg, diags := l.LoadSource(filepath.Join(dir, "demo.hcl"), demoConfig)
	if diags.HasErrors() {
		printDiags(cmd.ErrOrStderr(), l, diags)
		return exitError{1}
	}
	sticks := []demoStick{
		{file: filepath.Join(dir, "stick1-fat32.img"), size: 64 << 20, profile: "fat32"},
		{file: filepath.Join(dir, "stick2-exfat.img"), size: 96 << 20, profile: "exfat"},
		{file: filepath.Join(dir, "stick3-too-small.img"), size: 4 << 20, profile: "fat32"},
	}
	receiptsPath := filepath.Join(dir, "receipts.jsonl")
	_ = os.Remove(receiptsPath)
	logFile, err := os.Create(filepath.Join(dir, "demo.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	board := status.NewBoard()
	st := station.New(station.Options{Config: cfg, Receipts: receiptsPath, Board: board, Concurrency: len(sticks),
		Log: newLogger(logFile, "info", "text")})
	fmt.Fprintf(out, "flashpipe demo: writing 3 virtual sticks in %s\n\n", dir)
	views, stop := context.WithCancel(cmd.Context())
	done := make(chan struct{})
	go func() {
		status.RunTerminal(views, board, out, isTerminal(out))
		close(done)
	}()
	results := make([]receipts.Receipt, len(sticks))
	var wg sync.WaitGroup
	for i, s := range sticks {
		if err := createImage(s.file, s.size); err != nil {
			stop()
			return err
		}
		p, err := pickProfile(cfg, s.profile)
		if err != nil {
			stop()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = st.Flash(cmd.Context(), p, s.file, nil)
		}()
	}
	wg.Wait()
	time.Sleep(300 * time.Millisecond) // let the table draw the final state
	stop()
	<-done
	fmt.Fprintln(out, "\nReceipts ("+receiptsPath+"):")
	for i, r := range results {
		line := fmt.Sprintf("  %s  %-7s profile %-6s label %-10q wrote %s, verified %s",
			filepath.Base(sticks[i].file), r.Result, r.Profile, r.Label, units.Bytes(r.BytesWritten), units.Bytes(r.BytesVerified))
		if r.Error != "" {
			line += "\n      " + r.FailedStep + ": " + firstLine(r.Error)
		}
		fmt.Fprintln(out, line)
	}
	fmt.Fprintf(out, `
Look inside (the filesystem starts 1 MiB into each image):
  mdir -i %s@@1M ::/              (mtools, FAT32)
  sudo mount -o ro,loop,offset=1048576 %s /mnt
  fsck.fat -n / fsck.exfat -n on a loop device: sudo losetup -P -f --show IMAGE
Log: %s
`, sticks[0].file, sticks[1].file, logFile.Name())
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

func createImage(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Truncate(size)
}

// makeDemoContent writes a small tree with the cases a station meets:
// nested folders, long and unicode names, an empty file, a few MiB of data.
func makeDemoContent(root string) error {
	files := map[string]int{
		"README.txt":                0,
		"Welcome to the expo.txt":   0,
		"docs/Programme 2026.txt":   0,
		"docs/maps/hall-a.txt":      0,
		"docs/maps/hall-b.txt":      0,
		"media/intro-video.bin":     3 << 20,
		"media/photos/stand-01.bin": 600 << 10,
		"media/photos/stand-02.bin": 700 << 10,
		"Présentation – café ☕.txt": 0,
		"empty.txt":                 -1,
		"scratch.tmp":               1 << 10,
	}
	rng := rand.New(rand.NewSource(42))
	for name, size := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		switch {
		case size == 0:
			fmt.Fprintf(w, "%s\nWritten by the flashpipe demo.\n", name)
		case size > 0:
			buf := make([]byte, size)
			rng.Read(buf)
			w.Write(buf)
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
