package imagetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// ToolEnv is the environment the tests run filesystem tools in: UTC, a
// UTF-8 locale, and mtools without its geometry check.
var ToolEnv = append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TZ=UTC")

// Run runs a tool listed in internal/testreq/tools.txt with stdin and
// returns its output, failing t unless it exits 0.
func Run(t testing.TB, stdin, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(testreq.Tool(t, name), args...)
	cmd.Env, cmd.Stdin = ToolEnv, strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// Mkfs makes a volume file of mib MiB in dir with the filesystem's own
// mkfs and returns its path. kind is "fat12", "fat16", "fat32" (mkfs.fat),
// "exfat" (mkfs.exfat) or a mke2fs type ("ext2", "ext4"); label "" makes
// none; extra are more arguments for the mkfs.
func Mkfs(t testing.TB, dir, kind string, mib int64, label string, extra ...string) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("%s-%dM.vol", kind, mib))
	if err := os.Rename(looptest.Sparse(t, dir, mib<<20), p); err != nil {
		t.Fatal(err)
	}
	var args []string
	switch kind {
	case "fat12", "fat16", "fat32":
		args = append([]string{"mkfs.fat", "-F", kind[3:]}, extra...)
		if label != "" {
			args = append(args, "-n", label)
		}
	case "exfat":
		args = append([]string{"mkfs.exfat"}, extra...)
		if label != "" {
			args = append(args, "-L", label)
		}
	default:
		args = append([]string{"mke2fs", "-q", "-F", "-t", kind}, extra...)
		if label != "" {
			args = append(args, "-L", label)
		}
	}
	Run(t, "", args[0], append(args[1:], p)...)
	return p
}

// Place writes the volume file vol into the image file img at off.
func Place(t testing.TB, img, vol string, off int64) {
	t.Helper()
	data, err := os.ReadFile(vol)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
}

// PiDisk makes a 200 MiB disk image in dir laid out as Raspberry Pi OS
// ships, with table "mbr" (sfdisk) or "gpt" (sgdisk): partition 1 FAT32
// (64 MiB at 1 MiB, label "RASPI BOOT"), 2 ext4 (64 MiB, 4 KiB blocks in
// 8 groups, label "rootfs"), and for labels on more filesystems 3 exFAT
// (16 MiB, "Data") and 4 unformatted (8 MiB). It returns the path.
func PiDisk(t testing.TB, dir, table string) string {
	t.Helper()
	img := filepath.Join(dir, "disk.img")
	if err := os.Rename(looptest.Sparse(t, dir, 200<<20), img); err != nil {
		t.Fatal(err)
	}
	if table == "mbr" {
		Run(t, "label: dos\nstart=2048, size=131072, type=c\nstart=133120, size=131072, type=83\n"+
			"start=264192, size=32768, type=7\nstart=296960, size=16384, type=83\n", "sfdisk", "-q", img)
	} else {
		Run(t, "", "sgdisk", "-n", "1:2048:+64M", "-t", "1:0700", "-n", "2:133120:+64M", "-t", "2:8300",
			"-n", "3:264192:+16M", "-t", "3:0700", "-n", "4:296960:+8M", "-t", "4:8300", img)
	}
	Place(t, img, Mkfs(t, dir, "fat32", 64, "RASPI BOOT"), 2048*512)
	Place(t, img, Mkfs(t, dir, "ext4", 64, "rootfs", "-b", "4096", "-g", "2048"), 133120*512)
	Place(t, img, Mkfs(t, dir, "exfat", 16, "Data"), 264192*512)
	return img
}

// PiPartitions are the byte offsets of PiDisk's partitions 1 to 4.
var PiPartitions = [4]int64{2048 * 512, 133120 * 512, 264192 * 512, 296960 * 512}

// BlkidLabel returns the label blkid reads at byte off of img, low-level
// (-p, no cache); "" when it finds none.
func BlkidLabel(t testing.TB, img string, off int64) string {
	t.Helper()
	out, _ := exec.Command(testreq.Tool(t, "blkid"), "-p", "-O", fmt.Sprint(off), "-o", "value", "-s", "LABEL", img).Output()
	return strings.TrimSpace(string(out))
}

// OpenImage opens the image file img for reading and writing, closed
// when t ends, and returns it with its size.
func OpenImage(t testing.TB, img string) (*os.File, int64) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f, st.Size()
}
