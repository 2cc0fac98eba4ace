package main

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/station"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/flashpipe/flashpipe/units"
	"github.com/spf13/cobra"
)

//go:embed demo.hcl
var demoConfig []byte

// demoStick is one virtual stick of the demo: an image file in a virtual
// port.
type demoStick struct {
	file    string
	port    string // a label for the live table, not a USB port
	size    int64
	profile string
	note    string
}

func newDemoCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "See flashpipe work without sticks or root: three virtual sticks",
		Long: `demo makes three virtual sticks (image files of different sizes, shown in
virtual ports demo-1 to demo-3), writes its station file demo.hcl beside them,
runs it on them with the live table, verifies them and prints their receipts.
The third stick is too small for its content, so its failure shows too.
Afterwards it says where the images are, how to look inside and how to see
the station file's plan.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd, dir)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "where to put the images, content and station file (default: a new temporary folder)")
	return cmd
}

// demoSticks returns the demo's three virtual sticks in dir.
func demoSticks(dir string) []demoStick {
	return []demoStick{
		{file: filepath.Join(dir, "stick1-fat32.img"), port: "demo-1", size: 64 << 20, profile: "fat32"},
		{file: filepath.Join(dir, "stick2-exfat.img"), port: "demo-2", size: 96 << 20, profile: "exfat"},
		{file: filepath.Join(dir, "stick3-too-small.img"), port: "demo-3", size: 4 << 20, profile: "fat32", note: " (too small for its content: it fails)"},
	}
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
	cfgPath, cfg, err := writeDemoStation(cmd, dir)
	if err != nil {
		return err
	}
	sticks := demoSticks(dir)
	targets, err := demoTargets(cfg, sticks)
	if err != nil {
		return err
	}
	receiptsPath := filepath.Join(dir, "receipts.jsonl")
	_ = os.Remove(receiptsPath)
	logFile, err := os.Create(filepath.Join(dir, "demo.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	fmt.Fprintf(out, "flashpipe demo: three virtual sticks, image files in %s shown in virtual ports:\n", dir)
	for _, s := range sticks {
		fmt.Fprintf(out, "  %s  %-22s %8s  profile %s%s\n", s.port, filepath.Base(s.file), units.Bytes(s.size), s.profile, s.note)
	}
	fmt.Fprintf(out, "Station file: %s\n\n", cfgPath)
	board := status.NewBoard()
	st := station.New(station.Options{Config: cfg, Receipts: receiptsPath, Board: board, Concurrency: len(sticks),
		Log: newLogger(logFile, "info", "text")})
	views, stop := context.WithCancel(cmd.Context())
	done := make(chan struct{})
	go func() {
		status.RunTerminal(views, board, out, isTerminal(out))
		close(done)
	}()
	results := st.Flash(cmd.Context(), targets)
	time.Sleep(300 * time.Millisecond) // let the table draw the final state
	stop()
	<-done
	writeDemoReceipts(out, receiptsPath, sticks, results)
	fmt.Fprintf(out, `
Look inside (the filesystem starts 1 MiB into each image):
  mdir -i %s@@1M ::/              (mtools, FAT32)
  sudo mount -o ro,loop,offset=1048576 %s /mnt
  fsck.fat -n / fsck.exfat -n on a loop device: sudo losetup -P -f --show IMAGE
See what the station file does:
  flashpipe plan %s
Log: %s
`, sticks[0].file, sticks[1].file, cfgPath, logFile.Name())
	return nil
}

// writeDemoStation writes the demo's content and station file into dir
// and loads the station file, as `flashpipe plan` would.
func writeDemoStation(cmd *cobra.Command, dir string) (string, *pipeline.Config, error) {
	if err := makeDemoContent(filepath.Join(dir, "content")); err != nil {
		return "", nil, err
	}
	cfgPath := filepath.Join(dir, "demo.hcl")
	if err := os.WriteFile(cfgPath, demoConfig, 0o644); err != nil {
		return "", nil, err
	}
	l := pipeline.NewLoader(steps.Builtin())
	cfg, diags := l.LoadFiles([]string{cfgPath})
	if diags.HasErrors() {
		printDiags(cmd.ErrOrStderr(), l, diags)
		return "", nil, exitError{1}
	}
	return cfgPath, cfg, nil
}

// demoTargets creates the sticks' image files and returns them as flash
// targets: image files, with the virtual port as their port.
func demoTargets(cfg *pipeline.Config, sticks []demoStick) ([]station.Target, error) {
	var targets []station.Target
	for _, s := range sticks {
		if err := createImage(s.file, s.size); err != nil {
			return nil, err
		}
		p, err := pickProfile(cfg, s.profile)
		if err != nil {
			return nil, err
		}
		dev := matchers.ImageFile(s.file, s.size)
		dev.Port = s.port
		targets = append(targets, station.Target{Profile: p, Path: s.file, Device: dev})
	}
	return targets, nil
}

// writeDemoReceipts sums up the sticks' receipts, one line each.
func writeDemoReceipts(out io.Writer, path string, sticks []demoStick, results []receipts.Receipt) {
	fmt.Fprintln(out, "\nReceipts ("+path+"):")
	for i, r := range results {
		line := fmt.Sprintf("  job %d  %s  %-20s %-7s profile %-6s label %-10q wrote %s, verified %s",
			r.Job, sticks[i].port, filepath.Base(sticks[i].file), r.Result, r.Profile, r.Label, units.Bytes(r.BytesWritten), units.Bytes(r.BytesVerified))
		if r.Error != "" {
			line += "\n      " + r.FailedStep + ": " + firstLine(r.Error)
		}
		fmt.Fprintln(out, line)
	}
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
