// Package looptest attaches loop devices for tests that need a real block
// device. What it needs (root, losetup, loop devices, blkio throttling) it
// asks of internal/testreq: missing, it skips the test on a laptop and fails
// it under CI=true.
package looptest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/flashpipe/flashpipe/internal/testreq"
	"golang.org/x/sys/unix"
)

// Require stops t (see testreq.Skip) unless it runs as root with losetup
// installed. Call it before starting anything the test would have to stop.
func Require(t testing.TB) {
	t.Helper()
	testreq.Root(t, "to attach loop devices")
	testreq.Tool(t, "losetup")
}

// Sparse creates a sparse file of size bytes in dir and returns its path.
func Sparse(t testing.TB, dir string, size int64) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "loop-*.img")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// Attach attaches backing as a loop device with the given logical sector
// size (0 for the default 512) and detaches it in t.Cleanup. It returns the
// device path, e.g. /dev/loop3.
func Attach(t testing.TB, backing string, sectorSize int) string {
	t.Helper()
	args := []string{"--find", "--show"}
	if sectorSize != 0 {
		args = append(args, "--sector-size", fmt.Sprint(sectorSize))
	}
	return attach(t, backing, args)
}

// AttachPullable attaches backing as a loop device, as Attach does, and
// returns it with a function that detaches it — the stick pulled — once:
// t.Cleanup calls the same function, so it never detaches a device of the
// same name that another test (of another package, running at the same
// time) attached meanwhile, as a second losetup -d would.
func AttachPullable(t testing.TB, backing string) (dev string, pull func()) {
	t.Helper()
	Require(t)
	out, err := exec.Command("losetup", "--find", "--show", backing).CombinedOutput()
	if err != nil {
		testreq.Capability(t, "a loop device", fmt.Errorf("losetup: %v: %s", err, out))
	}
	dev = strings.TrimSpace(string(out))
	var once sync.Once
	pull = func() { once.Do(func() { Detach(dev) }) }
	t.Cleanup(pull)
	return dev, pull
}

// AttachReadOnly attaches backing as a read-only loop device (the
// write-protect switch of a stick) and detaches it in t.Cleanup.
func AttachReadOnly(t testing.TB, backing string) string {
	t.Helper()
	return attach(t, backing, []string{"--find", "--show", "--read-only"})
}

// AttachWith attaches backing (an image file or a block device) with more
// losetup options, e.g. "--read-only", "--offset", "1048576", and detaches
// it in t.Cleanup.
func AttachWith(t testing.TB, backing string, options ...string) string {
	t.Helper()
	return attach(t, backing, append([]string{"--find", "--show"}, options...))
}

func attach(t testing.TB, backing string, args []string) string {
	t.Helper()
	Require(t)
	out, err := exec.Command("losetup", append(args, backing)...).CombinedOutput()
	if err != nil {
		testreq.Capability(t, "a loop device", fmt.Errorf("losetup %v: %v: %s", args, err, out))
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { Detach(dev) })
	return dev
}

// Detach detaches a loop device; errors are ignored (it may be gone already).
func Detach(dev string) {
	_ = exec.Command("losetup", "-d", dev).Run()
}

// Tmpfs mounts a tmpfs of size bytes on a new temporary directory,
// unmounted in t.Cleanup, and returns the directory: a backing file there
// runs out of space part way through a write (ENOSPC, which a loop device
// on it reports as an I/O error), as a failing stick does.
func Tmpfs(t testing.TB, size int64) string {
	t.Helper()
	testreq.Root(t, "to mount a tmpfs")
	dir := t.TempDir()
	err := unix.Mount("flashpipe-test", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%d", size))
	testreq.Capability(t, "a tmpfs mount", err)
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// MajMin returns "MAJ:MIN" of a device node.
func MajMin(dev string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d:%d", unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev))), nil
}

// BlkioRoot is where cgroup v1 blkio is mounted on the test machines.
const BlkioRoot = "/sys/fs/cgroup/blkio"

// throttleFiles are the cgroup v1 blkio files Throttle writes.
var throttleFiles = []string{"blkio.throttle.write_bps_device", "blkio.throttle.read_bps_device"}

// RequireThrottle stops t (see testreq.Skip) unless Throttle can work:
// root, and cgroup v1 blkio throttling at BlkioRoot. Call it before
// starting anything the test would have to stop, when Throttle comes later.
func RequireThrottle(t testing.TB) {
	t.Helper()
	testreq.Root(t, "to throttle a loop device")
	for _, file := range throttleFiles {
		f, err := os.OpenFile(filepath.Join(BlkioRoot, file), os.O_WRONLY, 0)
		testreq.Capability(t, "cgroup v1 blkio throttling", err)
		f.Close()
	}
}

// Throttle limits writes (and reads when readBPS > 0) to dev in bytes per
// second through cgroup v1 blkio throttling of the root cgroup, and lifts
// the limit in t.Cleanup. Without blkio throttling it stops t (see
// RequireThrottle).
func Throttle(t testing.TB, dev string, writeBPS, readBPS int64) {
	t.Helper()
	RequireThrottle(t)
	mm, err := MajMin(dev)
	if err != nil {
		t.Fatal(err)
	}
	set := func(file string, bps int64) error {
		return os.WriteFile(filepath.Join(BlkioRoot, file), fmt.Appendf(nil, "%s %d", mm, bps), 0)
	}
	t.Cleanup(func() {
		for _, file := range throttleFiles {
			if err := set(file, 0); err != nil {
				t.Errorf("lifting the blkio limit on %s: %v", dev, err)
			}
		}
	})
	testreq.Capability(t, "cgroup v1 blkio throttling", set(throttleFiles[0], writeBPS))
	if readBPS > 0 {
		testreq.Capability(t, "cgroup v1 blkio throttling", set(throttleFiles[1], readBPS))
	}
}
