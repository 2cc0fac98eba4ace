package imagetest

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// NeedExFATMount stops t (see testreq) unless it can mount exFAT with
// exfat-fuse: root, loop devices, /dev/fuse and the tools.
func NeedExFATMount(t testing.TB) {
	t.Helper()
	looptest.Require(t)
	_, err := os.Stat("/dev/fuse")
	testreq.Capability(t, "/dev/fuse for exfat-fuse", err)
	testreq.Tools(t, "mount.exfat-fuse", "umount")
}

// MountExFAT mounts the exFAT volume on dev (a loop device) with exfat-fuse,
// read-write when rw, and returns the mount point and a function that
// unmounts it (also called in t.Cleanup; calling it again does nothing).
func MountExFAT(t testing.TB, dev string, rw bool) (string, func()) {
	t.Helper()
	NeedExFATMount(t)
	opt := "ro"
	if rw {
		opt = "rw"
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount.exfat-fuse", "-o", opt, dev, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount.exfat-fuse -o %s %s %s: %v: %s", opt, dev, mnt, err, out)
	}
	done := false
	umount := func() {
		if done {
			return
		}
		done = true
		for range 50 {
			if exec.Command("umount", mnt).Run() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond) // busy right after a walk
		}
		t.Errorf("umount %s failed", mnt)
	}
	t.Cleanup(umount)
	return mnt, umount
}
