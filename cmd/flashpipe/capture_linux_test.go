package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/diskimage/bmap"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/receipts"
)

// piMaster makes a master stick's disk as imagetest.PiDisk lays it out,
// its filesystems made by their own mkfs: FAT32 and ext4 holding the files
// of content (mcopy, mke2fs -d), an empty exFAT, and an unformatted
// partition of random bytes, which a capture must copy whole.
func piMaster(t *testing.T, content string) string {
	t.Helper()
	testreq.Tools(t, "sfdisk", "mkfs.fat", "mkfs.exfat", "mke2fs", "mcopy")
	img := imagetest.PiDisk(t, t.TempDir(), "mbr")
	vols := t.TempDir()
	fat := imagetest.Mkfs(t, vols, "fat32", 64, "RASPI BOOT")
	ents, _ := os.ReadDir(content)
	for _, e := range ents {
		imagetest.Run(t, "", "mcopy", "-s", "-i", fat, filepath.Join(content, e.Name()), "::/")
	}
	imagetest.Place(t, img, fat, imagetest.PiPartitions[0])
	imagetest.Place(t, img, imagetest.Mkfs(t, vols, "ext4", 64, "rootfs", "-b", "4096", "-d", content), imagetest.PiPartitions[1])
	raw := make([]byte, 8<<20)
	r := rand.New(rand.NewPCG(4, 4))
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	p4 := filepath.Join(vols, "p4.raw")
	if err := os.WriteFile(p4, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	imagetest.Place(t, img, p4, imagetest.PiPartitions[3])
	return img
}

// TestCaptureStickReflash captures master sticks — loop devices, read by
// their /dev node as a stick is — and flashes each image with flash --image
// --bmap auto onto a fresh loop device full of old data, as a station
// writes a stick. The master's bytes do not change; the written stick
// equals the master in every range the block map maps; and each of its
// filesystems checks clean (fsck.fat, fsck.exfat, e2fsck) and holds every
// file of the content. The masters: flashpipe build's FAT32, exFAT and ext4
// sticks, and a four-partition disk made by mkfs.fat, mke2fs and
// mkfs.exfat with an unformatted partition (copied whole).
func TestCaptureStickReflash(t *testing.T) {
	looptest.Require(t)
	testreq.Tools(t, "sfdisk")
	content := imageContent(t)
	for _, tc := range []struct {
		name, fs, table, out string
	}{
		{"fat32", "vfat", "mbr", "cap.img.zst"},
		{"exfat", "exfat", "gpt", "cap.img"},
		{"ext4", "ext4", "gpt", "cap.img.gz"},
		{"pi", "", "", "cap.img.zst"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			img := filepath.Join(dir, "master.img")
			if tc.fs == "" {
				img = piMaster(t, content)
			} else {
				if tc.fs == "exfat" {
					imagetest.NeedExFATMount(t)
				}
				if code, _, errs := runCLI(t, "build", "-c", content, "--fs", tc.fs, "--table", tc.table, "--size", "64MiB", "-o", img); code != 0 {
					t.Fatalf("build = %d: %s", code, errs)
				}
			}
			master := looptest.Attach(t, img, 0)
			before := sha256.Sum256(readFile(t, img))
			out := filepath.Join(dir, tc.out)
			code, stdout, errs := runCLI(t, "capture", master, "-o", out, "--bmap")
			if code != 0 || !strings.Contains(stdout, "block device "+filepath.Base(master)) {
				t.Fatalf("capture %s = %d, %s: %s", master, code, stdout, errs)
			}
			if tc.fs == "" && !strings.Contains(stdout, "whole: ") {
				t.Errorf("capture of %s does not say that the unformatted partition is copied whole:\n%s", master, stdout)
			}
			if sha256.Sum256(readFile(t, img)) != before {
				t.Errorf("master %s changed while it was captured", master)
			}
			m, err := bmap.ReadFile(bmap.PathFor(out))
			if err != nil {
				t.Fatal(err)
			}
			size := int64(len(readFile(t, img)))
			backing := imagetest.Garbage(t, size)
			stick, pull := looptest.AttachPullable(t, backing)
			t.Chdir(dir) // flash keeps its image cache in the current directory
			code, stdout, errs = runCLI(t, "flash", "--i-know-what-i-am-doing", "--image", out, "--bmap", "auto",
				"--receipts", filepath.Join(dir, "r.jsonl"), stick)
			var rc receipts.Receipt
			if err := json.Unmarshal([]byte(stdout), &rc); code != 0 || err != nil || rc.Result != receipts.ResultDone {
				t.Fatalf("flash --image %s %s = %d, receipt %s (%v); stderr:\n%s", out, stick, code, stdout, err, errs)
			}
			pull()
			checkMappedEqual(t, m, readFile(t, img), readFile(t, backing))
			if tc.fs != "" {
				checkStick(t, backing, tc.fs, content)
				return
			}
			imagetest.NeedExFATMount(t)
			tree := imagetest.TreeDigest(t, content)
			for i, p := range []struct {
				fs   string
				size int64
				want map[string]string
			}{{"vfat", 64 << 20, tree}, {"ext4", 64 << 20, tree}, {"exfat", 16 << 20, map[string]string{}}} {
				got := imagetest.VolumeTree(t, backing, p.fs, imagetest.PiPartitions[i], p.size)
				if diff := cmp.Diff(p.want, got); diff != "" {
					t.Errorf("partition %d (%s) of the written stick differs (-want +got):\n%s", i+1, p.fs, diff)
				}
			}
		})
	}
}

// checkMappedEqual fails t unless stick equals master in every range m
// maps, and m maps something.
func checkMappedEqual(t *testing.T, m *bmap.Map, master, stick []byte) {
	t.Helper()
	if len(stick) != len(master) || m.ImageSize != int64(len(master)) || m.MappedBytes() == 0 {
		t.Fatalf("stick %d bytes, master %d, block map of %d bytes mapping %d", len(stick), len(master), m.ImageSize, m.MappedBytes())
	}
	for _, r := range m.Regions() {
		if end := r.Offset + r.Length; !bytes.Equal(stick[r.Offset:end], master[r.Offset:end]) {
			t.Errorf("written stick bytes %d-%d differ from the master's", r.Offset, end-1)
		}
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
