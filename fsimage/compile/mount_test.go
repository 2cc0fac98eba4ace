package compile

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/fsimage/ext4"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// TestExt4MountsInTheKernel writes a GPT/ext4 plan with WriteImagePlan,
// attaches the partition as a loop device and mounts it read-only as its
// descriptor says (Mount.Type): the kernel's own ext4 driver reads every
// file back.
func TestExt4MountsInTheKernel(t *testing.T) {
	testreq.Root(t, "to attach a loop device and mount it")
	testreq.Tools(t, "losetup", "mount", "umount", "mke2fs")
	es := content(t)
	spec := Spec{Table: "gpt", PartName: "data", FS: "ext4", Label: "FLASHPIPE", Serial: 42, Entries: es, Now: now, TempDir: t.TempDir()}
	plan, err := Build(spec, 64<<20, 512)
	if err != nil {
		t.Fatalf("Build() error = %v", err)
	}
	defer plan.Cleanup()
	img := filepath.Join(t.TempDir(), "stick.img")
	if err := fsimage.WriteImagePlan(context.Background(), plan, img, nil); err != nil {
		t.Fatalf("WriteImagePlan() error = %v", err)
	}
	out, err := exec.Command("losetup", "--find", "--show", "--read-only",
		"--offset", strconv.FormatInt(plan.Partition.Offset, 10),
		"--sizelimit", strconv.FormatInt(plan.Partition.Length, 10), img).CombinedOutput()
	if err != nil {
		testreq.Capability(t, "a loop device", fmt.Errorf("losetup: %v: %s", err, out))
	}
	dev := strings.TrimSpace(string(out))
	defer exec.Command("losetup", "-d", dev).Run()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", ext4.Filesystem.Mount.Type, "-o", "ro", dev, mnt).CombinedOutput(); err != nil {
		testreq.Capability(t, "ext4 in the kernel", fmt.Errorf("mount -t ext4 %s: %v: %s", dev, err, out))
	}
	defer exec.Command("umount", mnt).Run()
	for _, e := range es {
		p := filepath.Join(mnt, filepath.FromSlash(e.Path))
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("Stat(%s) on the mounted stick: %v", e.Path, err)
			continue
		}
		if fi.IsDir() != e.Dir || fi.Mode().Perm() != e.Mode.Perm() || (!e.Dir && !fi.ModTime().Equal(e.ModTime.Truncate(time.Second))) {
			t.Errorf("Stat(%s) = %v %v, want %v %v (mke2fs -d keeps whole seconds)", e.Path, fi.Mode(), fi.ModTime(), e.Mode, e.ModTime.Truncate(time.Second))
		}
		if !e.Dir {
			got, _ := os.ReadFile(p)
			want, _ := os.ReadFile(e.Source)
			if string(got) != string(want) {
				t.Errorf("ReadFile(%s) on the mounted stick = %d bytes, want the source's %d", e.Path, len(got), len(want))
			}
		}
	}
	if out, _ := exec.Command("blkid", "-o", "value", "-s", "LABEL", dev).Output(); strings.TrimSpace(string(out)) != "FLASHPIPE" {
		t.Errorf("blkid LABEL = %q, want FLASHPIPE", out)
	}
}
