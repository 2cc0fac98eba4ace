package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flashpipe/flashpipe/diskimage/bmap"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/receipts"
)

// imageContent is smallContent with a file of 1 MiB of random bytes.
func imageContent(t *testing.T) string {
	t.Helper()
	dir := smallContent(t)
	b := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(13, 13))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(filepath.Join(dir, "photos", "big.bin"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkStick fails t unless the one partition of the disk image stick
// (filesystem fs, as imagetest names them) checks clean and holds exactly
// the files of content.
func checkStick(t *testing.T, stick, fs, content string) {
	t.Helper()
	_, parts := imagetest.Partitions(t, stick)
	if len(parts) != 1 {
		t.Fatalf("%s has partitions %+v, want one", stick, parts)
	}
	got := imagetest.VolumeTree(t, stick, fs, parts[0].Offset, parts[0].Size)
	if diff := cmp.Diff(imagetest.TreeDigest(t, content), got); diff != "" {
		t.Errorf("files on %s differ from the content (-want +got):\n%s", stick, diff)
	}
}

// TestCaptureBuiltImages: images built by flashpipe build (FAT32, exFAT and
// ext4, MBR and GPT) are captured to every format, with and without a
// block map; each capture, flashed with flash --image --bmap auto onto a
// stick full of old data, gives a filesystem that checks clean and holds
// every file of the content.
func TestCaptureBuiltImages(t *testing.T) {
	testreq.Tools(t, "sfdisk")
	content := imageContent(t)
	for _, tc := range []struct {
		fs, table, out, allocFS string
		bmap                    bool
	}{
		{"vfat", "mbr", "cap.img.zst", "fat32", true},
		{"ext4", "gpt", "cap.img.xz", "ext4", true},
		{"exfat", "gpt", "cap.img.gz", "exfat", false},
		{"vfat", "gpt", "cap.img", "fat32", false},
		{"ext4", "mbr", "cap.img", "ext4", true},
	} {
		t.Run(tc.fs+"-"+tc.table+"-"+tc.out, func(t *testing.T) {
			if tc.fs == "exfat" {
				imagetest.NeedExFATMount(t)
			}
			dir := t.TempDir()
			img := filepath.Join(dir, "master.img")
			if code, _, errs := runCLI(t, "build", "-c", content, "--fs", tc.fs, "--table", tc.table, "--size", "64MiB", "-o", img); code != 0 {
				t.Fatalf("build = %d: %s", code, errs)
			}
			out := filepath.Join(dir, tc.out)
			args := []string{"capture", img, "-o", out}
			if tc.bmap {
				args = append(args, "--bmap")
			}
			code, stdout, errs := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("capture = %d: %s", code, errs)
			}
			for _, want := range []string{"partition 1", tc.allocFS, "(what the filesystem uses)", "image SHA-256 ", "read back, every copied range equal"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("capture output lacks %q:\n%s", want, stdout)
				}
			}
			if _, err := os.Stat(bmap.PathFor(out)); (err == nil) != tc.bmap || tc.bmap && !strings.Contains(stdout, "block map "+bmap.PathFor(out)) {
				t.Errorf("block map %s: %v, capture says:\n%s; want it written: %v", bmap.PathFor(out), err, stdout, tc.bmap)
			}
			stick := imagetest.Garbage(t, 64<<20)
			t.Chdir(dir) // flash keeps its image cache in the current directory
			code, stdout, errs = runCLI(t, "flash", "--image", out, "--bmap", "auto", "--receipts", filepath.Join(dir, "r.jsonl"), stick)
			var rc receipts.Receipt
			if err := json.Unmarshal([]byte(stdout), &rc); code != 0 || err != nil || rc.Result != receipts.ResultDone {
				t.Fatalf("flash --image %s = %d, receipt %s (%v); stderr:\n%s", out, code, stdout, err, errs)
			}
			checkStick(t, stick, tc.fs, content)
		})
	}
}

// TestCaptureCLIRefusals: capture says what it needs and will not replace
// an image without --force.
func TestCaptureCLIRefusals(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "master.img")
	if code, _, errs := runCLI(t, "build", "-c", smallContent(t), "--size", "40MiB", "-o", img); code != 0 {
		t.Fatalf("build = %d: %s", code, errs)
	}
	out := filepath.Join(dir, "cap.img.zst")
	if code, _, errs := runCLI(t, "capture", img); code != 2 || !strings.Contains(errs, "give the image to write with -o") {
		t.Errorf("capture without -o = %d, %q; want exit 2 asking for -o", code, errs)
	}
	if code, _, errs := runCLI(t, "capture", img, "-o", out); code != 0 {
		t.Fatalf("capture = %d: %s", code, errs)
	}
	if code, _, errs := runCLI(t, "capture", img, "-o", out); code != 2 || !strings.Contains(errs, "exists; --force replaces it") {
		t.Errorf("capture onto an existing image = %d, %q; want a refusal naming --force", code, errs)
	}
	if code, _, errs := runCLI(t, "capture", img, "-o", out, "--force"); code != 0 {
		t.Errorf("capture --force = %d: %s", code, errs)
	}
	if code, _, errs := runCLI(t, "capture", "/dev/null", "-o", filepath.Join(dir, "null.img")); code != 2 || !strings.Contains(errs, "character device") {
		t.Errorf("capture /dev/null = %d, %q; want a refusal", code, errs)
	}
}

// TestBuildBmap: build --bmap writes NAME.bmap next to NAME.img, mapping
// what the plan writes, Zero extents included; bmaptool copy with it onto a
// stick full of old data gives a filesystem that checks clean with every
// file (the free part of a FAT is a Zero extent: garbage left there would
// be clusters in use); flash --image --bmap with it does the same. A map
// bmaptool would find first is refused.
func TestBuildBmap(t *testing.T) {
	testreq.Tools(t, "bmaptool", "sfdisk")
	content := imageContent(t)
	for _, tc := range []struct{ fs, table string }{{"vfat", "mbr"}, {"ext4", "gpt"}, {"exfat", "gpt"}} {
		t.Run(tc.fs+"-"+tc.table, func(t *testing.T) {
			if tc.fs == "exfat" {
				imagetest.NeedExFATMount(t)
			}
			dir := t.TempDir()
			img := filepath.Join(dir, "stick.img")
			code, stdout, errs := runCLI(t, "build", "-c", content, "--fs", tc.fs, "--table", tc.table, "--size", "64MiB", "-o", img, "--bmap")
			bm := filepath.Join(dir, "stick.bmap")
			if code != 0 || !strings.Contains(stdout, "wrote block map "+bm) {
				t.Fatalf("build --bmap = %d, %q: %s", code, stdout, errs)
			}
			m, err := bmap.ReadFile(bm)
			if err != nil || m.ImageSize != 64<<20 || m.MappedBytes() >= 32<<20 {
				t.Fatalf("block map: %v, image %d bytes, %d mapped; want 64 MiB with far less mapped", err, m.ImageSize, m.MappedBytes())
			}
			stick := imagetest.Garbage(t, 64<<20)
			imagetest.BmaptoolCopy(t, bm, img, stick)
			checkStick(t, stick, tc.fs, content)
			// The image step takes the same map, checks its checksums and
			// writes only what it maps.
			stick = imagetest.Garbage(t, 64<<20)
			t.Chdir(dir)
			code, stdout, errs = runCLI(t, "flash", "--image", img, "--bmap", bm, "--receipts", filepath.Join(dir, "r.jsonl"), stick)
			var rc receipts.Receipt
			if err := json.Unmarshal([]byte(stdout), &rc); code != 0 || err != nil || rc.Result != receipts.ResultDone {
				t.Fatalf("flash --image %s --bmap %s = %d, receipt %s (%v); stderr:\n%s", img, bm, code, stdout, err, errs)
			}
			if !strings.Contains(stdout, m.FileChecksum) {
				t.Errorf("receipt does not give the block map's checksum %s:\n%s", m.FileChecksum, stdout)
			}
			checkStick(t, stick, tc.fs, content)
		})
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "s.img.bmap"), []byte("stale"), 0o644)
	if code, _, errs := runCLI(t, "build", "-c", content, "--size", "40MiB", "-o", filepath.Join(dir, "s.img"), "--bmap"); code != 2 || !strings.Contains(errs, "would take it for the image's block map") {
		t.Errorf("build --bmap next to s.img.bmap = %d, %q; want a refusal", code, errs)
	}
}
