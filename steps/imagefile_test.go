package steps_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/steps"
)

// TestImageFiles writes a Raspberry Pi OS-like image to two sticks with
// a per-stick label and the Pi's per-stick files in its boot partition
// (file steps with partition = 1; and, with the label on partition 1, in
// its exFAT partition 3): verify passes (the job is done), the receipt
// lists each file with its SHA1, fsck.fat or fsck.exfat find the
// partition clean and mtools or exfat-fuse read each stick's own files
// back.
func TestImageFiles(t *testing.T) { onPiPartitions(t, imageFiles) }

// onPiPartitions runs test on partition 1 (FAT32) and 3 (exFAT) of
// imagetest.PiDisk, each a subtest named after its filesystem.
func onPiPartitions(t *testing.T, test func(t *testing.T, n int, fs string)) {
	for n, fs := range map[int]string{1: "vfat", 3: "exfat"} {
		t.Run(fs, func(t *testing.T) {
			if fs == "exfat" {
				imagetest.NeedExFATMount(t)
			}
			test(t, n, fs)
		})
	}
}

// imageFiles is TestImageFiles with the files in partition n, of
// filesystem fs.
func imageFiles(t *testing.T, n int, fs string) {
	dir := t.TempDir()
	img := piImage(t, dir, "mbr", "zstd")
	body := fmt.Sprintf(`source = %[1]q
  bmap = "auto"
  label = format("BOOT%%04d", job.seq)
  label_partition = 1
  }
  step "file" {
    path      = "ssh"
    content   = ""
    partition = %[2]d
  }
  step "file" {
    path      = "userconf.txt"
    content   = "pi:${job.seq}\n"
    partition = %[2]d
  }
  step "file" {
    path      = "firstrun.sh"
    content   = "%[3]s"
    partition = %[2]d
  }
  step "file" {
    path      = "config/wpa_supplicant.conf"
    content   = "network={ ssid=\"hall-${job.seq}\" }\n"
    partition = %[2]d`, img, n, strings.Repeat(`echo ${job.seq}\n`, 2000))
	rcs, sticks := flashLabelled(t, dir, body, 2)
	for k, rc := range rcs {
		seq := k + 1
		want := map[string]string{
			"ssh":                        "",
			"userconf.txt":               fmt.Sprintf("pi:%d\n", seq),
			"config/wpa_supplicant.conf": fmt.Sprintf("network={ ssid=\"hall-%d\" }\n", seq),
		}
		want["firstrun.sh"] = strings.Repeat(fmt.Sprintf("echo %d\n", seq), 2000) // several clusters
		if rc.Result != receipts.ResultDone || rc.Label != fmt.Sprintf("BOOT%04d", seq) || len(rc.Files) != len(want) {
			t.Fatalf("stick %d: result %q (%s), label %q, %d files; want done, BOOT%04d, %d files", seq, rc.Result, rc.Error, rc.Label, len(rc.Files), seq, len(want))
		}
		for _, f := range rc.Files {
			sum := sha1.Sum([]byte(want[f.Path]))
			if f.SHA1 != hex.EncodeToString(sum[:]) {
				t.Errorf("stick %d: receipt file %s SHA1 %s, want that of %q", seq, f.Path, f.SHA1, want[f.Path])
			}
		}
		// The label's root folder entry and the files' share partition 1's
		// root folder: mdir reads the label from that entry.
		dir := imagetest.Run(t, "", "mdir", "-i", fmt.Sprintf("%s@@%d", sticks[k], imagetest.PiPartitions[0]), "::/")
		if want := fmt.Sprintf("Volume in drive : is BOOT%04d", seq); !strings.Contains(dir, want) {
			t.Errorf("stick %d: mdir of partition 1 does not say %q:\n%s", seq, want, dir)
		}
		got := imagetest.VolumeTree(t, sticks[k], fs, imagetest.PiPartitions[n-1], map[int]int64{1: 64 << 20, 3: 16 << 20}[n])
		for p, data := range want {
			sum := sha1.Sum([]byte(data))
			if got[p] != hex.EncodeToString(sum[:]) {
				t.Errorf("stick %d: %s read back with mtools has SHA1 %q, want that of %q", seq, p, got[p], data)
			}
		}
	}
}

// TestImageFilesConfig: partition without an image step, a file step
// without partition after one, a partition the image does not have or
// that holds no FAT are refused when the configuration is loaded, as
// validate refuses them.
func TestImageFilesConfig(t *testing.T) {
	dir := t.TempDir()
	img := imagetest.PiDisk(t, dir, "mbr")
	for _, c := range []struct{ steps, want string }{
		{`step "partition" { table = "mbr" }
  step "mkfs" { type = "vfat" }
  step "file" {
    path = "a"
    content = "x"
    partition = 1
  }`, `Step "file" needs an image step before it`},
		{fileAfterImage(img, ""), "partition = N"},
		{fileAfterImage(img, "partition = 7"), "the image has no partition 7"},
		{fileAfterImage(img, "partition = 2"), "holds ext4; files can be put into FAT12, FAT16, FAT32 and exFAT partitions only"},
		{fileAfterImage(img, "partition = 4"), "Partition cannot take files"},
	} {
		src := fmt.Sprintf("profile \"p\" {\n  %s\n  step \"verify\" {}\n}\n", c.steps)
		_, diags := pipeline.NewLoader(steps.Builtin()).LoadSource(filepath.Join(dir, "p.hcl"), []byte(src))
		if !diags.HasErrors() || !strings.Contains(diags.Error(), c.want) {
			t.Errorf("LoadSource(%s) = %v, want an error saying %q", c.steps, diags, c.want)
		}
	}
}

// TestImageEditTimeout: a file step's timeout and retries, with partition,
// are the image stage's (the stage that does its work), as a fused step's
// are the write stage's.
func TestImageEditTimeout(t *testing.T) {
	dir := t.TempDir()
	img := imagetest.PiDisk(t, dir, "mbr")
	src := fmt.Sprintf("profile \"p\" {\n  %s\n  step \"verify\" {}\n}\n", fileAfterImage(img, "partition = 1\n    timeout = \"7m\"\n    retries = 2"))
	cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadSource(filepath.Join(dir, "p.hcl"), []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	st := cfg.Profiles[0].Stages[0]
	if len(st.Edits) != 1 || st.Timeout != 7*time.Minute || st.Retries != 2 {
		t.Errorf("image stage: %d edits, timeout %s, retries %d; want the file step's 7m and 2", len(st.Edits), st.Timeout, st.Retries)
	}
}

// fileAfterImage returns an image step of img and a file step after it
// with the attribute attr.
func fileAfterImage(img, attr string) string {
	return fmt.Sprintf("step \"image\" { source = %q }\n  step \"file\" {\n    path = \"a\"\n    content = \"x\"\n    %s\n  }", img, attr)
}

// TestImageFilesOnLoopDevice writes an image with a file in its FAT
// partition to a loop device: fsck.fat finds the partition clean, mtools
// reads the file back; then a byte of the file flipped on the stick makes
// verify — which compares the image's plan with the file's sectors laid
// over it — fail.
func TestImageFilesOnLoopDevice(t *testing.T) {
	looptest.Require(t)
	dir := t.TempDir()
	img := piImage(t, dir, "mbr", "raw")
	cfg := load(t, fmt.Sprintf(`station { image_cache = %q }
profile "p" {
  step "image" { source = %q }
  step "file" {
    path      = "firstrun.sh"
    content   = "echo stick ${job.seq}\n"
    partition = 1
  }
  step "verify" {}
}`, filepath.Join(dir, "cache"), img))
	const size = 200 << 20
	backing := looptest.Sparse(t, dir, size)
	dev := looptest.Attach(t, backing, 0)
	j := &pipeline.Job{Seq: 4, Config: cfg, Profile: cfg.Profiles[0], Target: dev, Now: time.Now(),
		Device: &matchers.Device{Name: filepath.Base(dev), Serial: "SER-4", Bus: "loop", Size: size}}
	defer j.Close()
	out, err := runJob(t, j)
	if err != nil || len(out.Files) != 1 || out.Files[0].Path != "firstrun.sh" {
		t.Fatalf("image with a file = %+v, %v; want done, the file in the outcome", out, err)
	}
	got := imagetest.VolumeTree(t, backing, "vfat", imagetest.PiPartitions[0], 64<<20)
	if sum := sha1.Sum([]byte("echo stick 4\n")); got["firstrun.sh"] != hex.EncodeToString(sum[:]) {
		t.Errorf("firstrun.sh read back with mtools has SHA1 %q, want %x", got["firstrun.sh"], sum)
	}
	var at int64 = -1
	for _, e := range j.Plan.Extents {
		if e.What == "file firstrun.sh" {
			at = e.Offset
		}
	}
	if at < 0 {
		t.Fatalf("the plan has no extent of firstrun.sh")
	}
	j.Dev.Close()
	j.Dev = nil
	flip(t, dev, at+3)
	v, err := j.Profile.Stages[1].Runner.Run(context.Background(), j)
	if !errors.Is(err, steps.ErrVerifyFailed) || v.Verify == nil || v.Verify.OK {
		t.Errorf("verify after flipping a byte of firstrun.sh on the stick = %+v, %v; want a failed verification", v.Verify, err)
	}
}

// TestImageCopy copies a folder into partition 1 (FAT32) and 3 (exFAT)
// of a Raspberry Pi OS-like image, with a file step beside it, on two
// sticks: the jobs are done (verify compared the copied files' clusters
// with their sources), the receipt has the content's manifest digest and
// the generated file, the partitions are clean and read back whole; a
// file step whose path the copied content has fails the job, nothing
// written.
func TestImageCopy(t *testing.T) {
	onPiPartitions(t, func(t *testing.T, n int, fs string) {
		dir := t.TempDir()
		content := filepath.Join(dir, "content")
		files := map[string][]byte{
			"overlays/README":        []byte("overlays\n"),
			"overlays/big.dtbo":      bytes.Repeat([]byte("dtbo"), 40000), // many clusters
			"overlays/deep/empty":    nil,
			"A Long Name (copy).txt": []byte("long\n"),
		}
		for p, data := range files {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(content, p)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(content, p), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		img := piImage(t, dir, "mbr", "raw")
		body := fmt.Sprintf(`source = %q
  }
  step "copy" {
    paths       = [%q]
    destination = "/extra"
    partition   = %d
  }
  step "file" {
    path      = "extra/stick.txt"
    content   = "${job.seq}"
    partition = %[3]d`, img, content+"/", n)
		rcs, sticks := flashLabelled(t, dir, body, 2)
		for k, rc := range rcs {
			if rc.Result != receipts.ResultDone || rc.ManifestDigest == "" || len(rc.Files) != 1 {
				t.Fatalf("stick %d: result %q (%s), manifest digest %q, files %+v; want done, a digest, one file", k+1, rc.Result, rc.Error, rc.ManifestDigest, rc.Files)
			}
			got := imagetest.VolumeTree(t, sticks[k], fs, imagetest.PiPartitions[n-1], map[int]int64{1: 64 << 20, 3: 16 << 20}[n])
			for p, data := range files {
				sum := sha1.Sum(data)
				if got["extra/"+p] != hex.EncodeToString(sum[:]) {
					t.Errorf("stick %d: extra/%s read back has SHA1 %q, want %x", k+1, p, got["extra/"+p], sum)
				}
			}
			if sum := sha1.Sum([]byte(fmt.Sprint(k + 1))); got["extra/stick.txt"] != hex.EncodeToString(sum[:]) {
				t.Errorf("stick %d: extra/stick.txt read back has SHA1 %q, want %x", k+1, got["extra/stick.txt"], sum)
			}
		}
		clash := strings.Replace(body, "extra/stick.txt", "extra/overlays/README", 1)
		rcs, _ = flashLabelled(t, t.TempDir(), clash, 1)
		if rc := rcs[0]; rc.Result == receipts.ResultDone || !strings.Contains(rc.Error, "a copy step already puts extra/overlays/README there") || rc.BytesWritten != 0 {
			t.Errorf("a file step over a copied file: result %q, error %q, %d bytes written; want failed, naming the clash, nothing written", rc.Result, rc.Error, rc.BytesWritten)
		}
	})
}

// TestImageFilesPools: a file step with partition that reads a pool's
// row makes each stick of the profile take a row, as a file step in a
// filesystem flashpipe lays out does.
func TestImageFilesPools(t *testing.T) {
	dir := t.TempDir()
	img := imagetest.PiDisk(t, dir, "mbr")
	csv := filepath.Join(dir, "wifi.csv")
	if err := os.WriteFile(csv, []byte("ssid\nhall-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := load(t, fmt.Sprintf(`pool "wifi" { csv = %q }
profile "p" {
  %s
  step "verify" {}
}`, csv, strings.Replace(fileAfterImage(img, "partition = 1"), `"x"`, "pool.wifi.row.ssid", 1)))
	if got := cfg.Profiles[0].Pools; fmt.Sprint(got) != "[wifi]" {
		t.Errorf("Profile.Pools = %v, want [wifi]", got)
	}
}
