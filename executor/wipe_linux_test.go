//go:build linux

package executor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/blockdev"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// blkidType returns what blkid -p finds at byte offset off of path, or "".
func blkidType(path string, off int64) string {
	out, _ := exec.Command("blkid", "-p", "-o", "value", "-s", "TYPE", "-s", "PTTYPE", "-O", fmt.Sprint(off), path).Output()
	return strings.TrimSpace(string(out))
}

// TestWipeQuick puts an old partition table (MBR with an extended
// partition, or GPT) with FAT and ext4 filesystems on an image, then
// quick-wipes the loop device over it: blkid must find nothing anywhere it
// found something before.
func TestWipeQuick(t *testing.T) {
	testreq.Tools(t, "blkid", "sfdisk", "sgdisk", "mkfs.fat", "mkfs.ext4")
	const size = 64 << 20
	tables := map[string]func(img string){
		"mbr": func(img string) {
			cmd := exec.Command("sfdisk", "-q", img)
			cmd.Stdin = strings.NewReader("label: dos\nstart=2048, size=20480, type=c\nstart=22528, size=90000, type=5\nstart=24576, size=40960, type=83\n")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sfdisk: %v\n%s", err, out)
			}
		},
		"gpt": func(img string) {
			run(t, "sgdisk", "-n", "1:2048:22527", "-n", "2:24576:65535", img)
		},
	}
	for name, mkTable := range tables {
		t.Run(name, func(t *testing.T) {
			dev, img := loopDevice(t, size, 512)
			dev.Close()
			mkTable(img)
			run(t, "mkfs.fat", "-F", "16", "--offset", "2048", img, "10240")
			run(t, "mkfs.ext4", "-q", "-F", "-E", fmt.Sprintf("offset=%d", 24576*512), img, "20M")
			offsets := []int64{0, 2048 * 512, 24576 * 512}
			var before []string
			for _, off := range offsets {
				before = append(before, blkidType(img, off))
			}
			if before[0] != name && !(name == "mbr" && before[0] == "dos") || before[1] != "vfat" || before[2] != "ext4" {
				t.Fatalf("blkid before the wipe found %q, want a table, vfat and ext4", before)
			}
			dev, err := blockdev.Open(dev.Path, blockdev.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer dev.Close()
			if err := Wipe(context.Background(), dev, WipeQuick, 0, nil); err != nil {
				t.Fatalf("Wipe(quick) = %v", err)
			}
			for _, off := range offsets {
				if got := blkidType(dev.Path, off); got != "" {
					t.Errorf("blkid -p -O %d after Wipe(quick) = %q, want nothing", off, got)
				}
			}
		})
	}
}

func TestWipeWholeDevice(t *testing.T) {
	const size = 16 << 20
	for _, tc := range []struct {
		name, mode string
		loop       bool
		wantNote   bool
	}{
		{"loop zero", WipeZero, true, false},
		{"loop discard", WipeDiscard, true, false},
		{"image zero", WipeZero, false, false},
		{"image discard", WipeDiscard, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dev *blockdev.Device
			if tc.loop {
				dev, _ = loopDevice(t, size, 512)
			} else {
				dev, _ = imageDevice(t, size)
			}
			fill(t, dev.Path, size, 0xa5)
			var notes []string
			err := Wipe(context.Background(), dev, tc.mode, 0, func(p Progress) {
				if p.Note != "" {
					notes = append(notes, p.Note)
				}
			})
			if err != nil {
				t.Fatalf("Wipe(%s) = %v", tc.mode, err)
			}
			if (len(notes) > 0) != tc.wantNote {
				t.Errorf("Wipe(%s) notes = %q, want a note: %v", tc.mode, notes, tc.wantNote)
			}
			if err := dev.Flush(); err != nil {
				t.Fatal(err)
			}
			b := blockdev.AlignedBuffer(size)
			if _, err := dev.ReadAt(b, 0); err != nil {
				t.Fatal(err)
			}
			if i := bytes.IndexFunc(b, func(r rune) bool { return r != 0 }); i >= 0 {
				t.Errorf("Wipe(%s) left a non-zero byte at %d", tc.mode, i)
			}
		})
	}
}

func TestWipeNoneAndBadMode(t *testing.T) {
	dev, img := imageDevice(t, 1<<20)
	fill(t, img, 1<<20, 0xa5)
	if err := Wipe(context.Background(), dev, WipeNone, 0, nil); err != nil {
		t.Fatalf("Wipe(none) = %v", err)
	}
	b, _ := os.ReadFile(img)
	if !bytes.Equal(b, bytes.Repeat([]byte{0xa5}, 1<<20)) {
		t.Errorf("Wipe(none) changed the device")
	}
	if err := Wipe(context.Background(), dev, "fast", 0, nil); err == nil || !strings.Contains(err.Error(), "quick") {
		t.Errorf("Wipe(fast) = %v, want an error listing the modes", err)
	}
}
