package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

func smallContent(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string]string{
		"a.txt": "alpha\n", "photos/p.jpg": "not really a jpeg\n", "docs/Read me.txt": "long name\n",
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fsckPartition copies the partition at 1 MiB out of img and runs
// fsck.fat -n on it.
func fsckPartition(t *testing.T, img string) {
	t.Helper()
	testreq.Tool(t, "fsck.fat")
	part := filepath.Join(t.TempDir(), "part.img")
	if out, err := exec.Command("dd", "if="+img, "of="+part, "bs=1M", "skip=1", "status=none").CombinedOutput(); err != nil {
		t.Fatalf("dd: %v: %s", err, out)
	}
	if out, err := exec.Command("fsck.fat", "-n", part).CombinedOutput(); err != nil {
		t.Errorf("fsck.fat -n: %v:\n%s", err, out)
	}
}

func mdirOf(t *testing.T, img string, dir string) string {
	t.Helper()
	testreq.Tool(t, "mdir")
	cmd := exec.Command("mdir", "-/", "-i", img+"@@1M", "::"+dir)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mdir: %v: %s", err, out)
	}
	return string(out)
}

// TestBuildLegacyFlags builds an image with the original tool's flags:
// the .jpg is left out, the label is set, and fsck.fat finds it clean.
func TestBuildLegacyFlags(t *testing.T) {
	content := smallContent(t)
	img := filepath.Join(t.TempDir(), "stick.img")
	var stdout, stderr bytes.Buffer
	args := []string{"build", "-c", content, "-x", "jpg", "--label", "EXPO", "--fs", "vfat", "--table", "mbr", "--size", "64MiB", "-o", img}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("flashpipe %v = exit %d; stderr:\n%s", args, code, stderr.String())
	}
	listing := mdirOf(t, img, "/")
	if !strings.Contains(listing, "EXPO") || !strings.Contains(listing, "Read me.txt") || strings.Contains(listing, "p.jpg") {
		t.Errorf("mdir -/ of the built image: want label EXPO, Read me.txt and no p.jpg:\n%s", listing)
	}
	fsckPartition(t, img)
}

// TestFlashImageFiles runs the implicit profile on two image files at once,
// with no root needed, and checks both receipts and images.
func TestFlashImageFiles(t *testing.T) {
	content := smallContent(t)
	dir := t.TempDir()
	a, b, rpath := filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img"), filepath.Join(dir, "r.jsonl")
	var stdout, stderr bytes.Buffer
	args := []string{"flash", "-c", content, "--label", "FLASH", "--size", "48MiB", "--receipts", rpath, a, b}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("flashpipe %v = exit %d; stderr:\n%s", args, code, stderr.String())
	}
	if got := strings.Count(stdout.String(), `"result":"done"`); got != 2 {
		t.Errorf("flash printed %d done receipts, want 2:\n%s", got, stdout.String())
	}
	data, _ := os.ReadFile(rpath)
	if got := strings.Count(string(data), "\n"); got != 2 {
		t.Errorf("receipts file holds %d lines, want 2", got)
	}
	for _, img := range []string{a, b} {
		if l := mdirOf(t, img, "/docs"); !strings.Contains(l, "Read me.txt") {
			t.Errorf("%s: /docs lacks Read me.txt:\n%s", img, l)
		}
		fsckPartition(t, img)
	}
}

// TestFlashBlockDeviceGuard shows that flash does not bypass the safety
// guard: a loop device (bus loop, not allowed by default) is refused and
// left unchanged, unless --i-know-what-i-am-doing.
func TestFlashBlockDeviceGuard(t *testing.T) {
	looptest.Require(t)
	content := smallContent(t)
	dir := t.TempDir()
	backing := looptest.Sparse(t, dir, 40<<20)
	os.WriteFile(backing, bytes.Repeat([]byte{0xA5}, 1<<20), 0o644)
	os.Truncate(backing, 40<<20)
	dev := looptest.Attach(t, backing, 0)
	before, _ := os.ReadFile(backing)

	var stdout, stderr bytes.Buffer
	args := []string{"flash", "-c", content, "--receipts", filepath.Join(dir, "r.jsonl"), dev}
	if code := run(context.Background(), args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "refused by the safety guard") {
		t.Errorf("flash %s = exit %d, stderr %q; want a refusal", dev, code, stderr.String())
	}
	if after, _ := os.ReadFile(backing); !bytes.Equal(before, after) {
		t.Errorf("refused device %s changed", dev)
	}
	stdout.Reset()
	stderr.Reset()
	args = append([]string{"flash", "--i-know-what-i-am-doing"}, args[1:]...)
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("flash --i-know-what-i-am-doing %s = exit %d; stderr:\n%s", dev, code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "safety guard overridden") {
		t.Errorf("the override was not logged:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), `"result":"done"`) {
		t.Errorf("flash output: want a done receipt:\n%s", stdout.String())
	}
}

// TestFlashTooSmallWritesNothing: content that does not fit fails with the
// bytes needed and available before a byte is written — the wipe included.
func TestFlashTooSmallWritesNothing(t *testing.T) {
	content := smallContent(t)
	big := make([]byte, 6<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	os.WriteFile(filepath.Join(content, "big.bin"), big, 0o644)
	dir := t.TempDir()
	img := filepath.Join(dir, "small.img")
	junk := bytes.Repeat([]byte("old data "), (4<<20)/9+1)[:4<<20]
	if err := os.WriteFile(img, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	args := []string{"flash", "-c", content, "--receipts", filepath.Join(dir, "r.jsonl"), img}
	if code := run(context.Background(), args, &stdout, &stderr); code == 0 {
		t.Fatalf("flash of 6 MiB onto a 4 MiB image = exit 0, want a failure")
	}
	if out := stdout.String(); !strings.Contains(out, "does not fit") || !strings.Contains(out, "needs") || !strings.Contains(out, "available") {
		t.Errorf("receipt does not say how much is needed and available:\n%s", out)
	}
	if after, _ := os.ReadFile(img); !bytes.Equal(after, junk) {
		t.Errorf("the too-small image was changed; want it byte-for-byte unchanged")
	}
}

// TestBuildReport: build counts every file of the content, empty ones
// too, on every filesystem (ext4 places files where it likes and the FAT
// builders give empty files no cluster, so the plan's file runs are not the
// count), says how much content that is in decimal units, and echoes the
// size as the user wrote it.
func TestBuildReport(t *testing.T) {
	content := t.TempDir()
	for name, data := range map[string]string{"abc.txt": "abc", "empty.txt": "", "docs/empty too.txt": ""} {
		p := filepath.Join(content, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, fs := range []string{"vfat", "exfat", "ext4"} {
		t.Run(fs, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "x.img")
			code, out, errs := runCLI(t, "build", "-c", content, "--fs", fs, "--size", "64MB", "-o", img)
			if code != 0 {
				t.Fatalf("build --fs %s = exit %d; stderr:\n%s", fs, code, errs)
			}
			for _, want := range []string{"wrote " + img + ": 64MB, ", ", 3 files (3 B), ", " MB written: "} {
				if !strings.Contains(out, want) {
					t.Errorf("build --fs %s printed %q, want it to contain %q", fs, out, want)
				}
			}
		})
	}
}

// TestFlashReceiptsDefault: without --receipts or station.receipts, flash
// appends to receipts.jsonl in the current directory, and its help says so.
func TestFlashReceiptsDefault(t *testing.T) {
	content := smallContent(t)
	dir := t.TempDir()
	t.Chdir(dir)
	if code, _, errs := runCLI(t, "flash", "-c", content, "--size", "48MiB", "s.img"); code != 0 {
		t.Fatalf("flash s.img = exit %d; stderr:\n%s", code, errs)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "receipts.jsonl")); err != nil || !strings.Contains(string(data), `"result":"done"`) {
		t.Errorf("receipts.jsonl in the current directory = %q, %v; want the done receipt", data, err)
	}
	_, help, _ := runCLI(t, "flash", "--help")
	if !strings.Contains(help, "receipts.jsonl in the current directory") {
		t.Errorf("flash --help does not say where receipts go by default:\n%s", help)
	}
}
