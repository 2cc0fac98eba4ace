package imagetest

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// Partition is one partition of a disk image, as sfdisk lists it.
type Partition struct {
	Offset, Size int64 // bytes
	Name         string
}

// Partitions reads the partition table of the disk image img with
// `sfdisk --json` and returns its label ("dos" or "gpt") and partitions.
func Partitions(t testing.TB, img string) (string, []Partition) {
	t.Helper()
	var pt struct {
		PartitionTable struct {
			Label      string `json:"label"`
			SectorSize int64  `json:"sectorsize"`
			Partitions []struct {
				Start int64  `json:"start"`
				Size  int64  `json:"size"`
				Name  string `json:"name"`
			} `json:"partitions"`
		} `json:"partitiontable"`
	}
	out, err := exec.Command(testreq.Tool(t, "sfdisk"), "--json", img).Output()
	if err != nil {
		t.Fatalf("sfdisk --json %s: %v", img, err)
	}
	if err := json.Unmarshal(out, &pt); err != nil {
		t.Fatalf("sfdisk --json %s: %v", img, err)
	}
	ss := pt.PartitionTable.SectorSize
	if ss == 0 {
		ss = 512
	}
	var parts []Partition
	for _, p := range pt.PartitionTable.Partitions {
		parts = append(parts, Partition{Offset: p.Start * ss, Size: p.Size * ss, Name: p.Name})
	}
	return pt.PartitionTable.Label, parts
}

// VolumeTree checks the volume of filesystem fs ("vfat", "exfat" or
// "ext4", as Fsck names them) at off, size bytes long, in img with its
// checker, and returns its files' digests (TreeDigest, without ext4's
// lost+found), read with mtools, exfat-fuse (which needs root and a loop
// device) or debugfs.
func VolumeTree(t testing.TB, img, fs string, off, size int64) map[string]string {
	t.Helper()
	vol := Extract(t, img, off, size)
	defer os.Remove(vol)
	Fsck(t, fs, vol)
	dir := t.TempDir()
	var out []byte
	var err error
	switch fs {
	case "vfat":
		cmd := exec.Command(testreq.Tool(t, "mcopy"), "-s", "-n", "-i", vol, "::/", dir)
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		out, err = cmd.CombinedOutput()
	case "ext4":
		out, err = exec.Command(testreq.Tool(t, "debugfs"), "-R", "rdump / "+dir, vol).CombinedOutput()
		if err == nil && bytes.Contains(out, []byte("rror")) {
			t.Errorf("debugfs rdump of %s: %s", vol, out)
		}
	case "exfat":
		mnt, umount := MountExFAT(t, looptest.AttachReadOnly(t, vol), false)
		defer umount()
		return TreeDigest(t, mnt)
	default:
		t.Fatalf("VolumeTree: no reader for filesystem %q", fs)
	}
	if err != nil {
		t.Fatalf("reading the files of %s (%s): %v\n%s", vol, fs, err, strings.TrimSpace(string(out)))
	}
	os.RemoveAll(filepath.Join(dir, "lost+found"))
	return TreeDigest(t, dir)
}

// BmaptoolCopy writes image onto the file stick with `bmaptool copy --bmap
// bmapPath`, through a loop device: bmaptool truncates a regular file
// before it writes, so only a block device keeps the old data between the
// mapped ranges that a test must show does not matter.
func BmaptoolCopy(t testing.TB, bmapPath, image, stick string) {
	t.Helper()
	bmaptool := testreq.Tool(t, "bmaptool")
	dev, pull := looptest.AttachPullable(t, stick) // detached once: a second losetup -d could hit another test's device
	defer pull()
	if out, err := exec.Command(bmaptool, "copy", "--bmap", bmapPath, image, dev).CombinedOutput(); err != nil {
		t.Fatalf("bmaptool copy --bmap %s %s %s: %v\n%s", bmapPath, image, dev, err, out)
	}
}

// Garbage returns a new file of size pseudo-random bytes (the same for
// every call): a used stick, whose old data must not matter where nothing
// is written.
func Garbage(t testing.TB, size int64) string {
	t.Helper()
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(9, 9))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	p := filepath.Join(t.TempDir(), "stick.img")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
