// Package looptest attaches loop devices for tests that need a real block
// device. Everything here skips the test, with a message saying what is
// missing, when not root or when losetup is absent.
package looptest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Require skips t unless it runs as root with losetup installed.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to attach loop devices (run the tests as root)")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("needs losetup (Debian package util-linux)")
	}
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

// AttachReadOnly attaches backing as a read-only loop device (the
// write-protect switch of a stick) and detaches it in t.Cleanup.
func AttachReadOnly(t testing.TB, backing string) string {
	t.Helper()
	return attach(t, backing, []string{"--find", "--show", "--read-only"})
}

func attach(t testing.TB, backing string, args []string) string {
	t.Helper()
	Require(t)
	out, err := exec.Command("losetup", append(args, backing)...).CombinedOutput()
	if err != nil {
		t.Skipf("losetup %v: %v: %s (needs loop device support)", args, err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { Detach(dev) })
	return dev
}

// Detach detaches a loop device; errors are ignored (it may be gone already).
func Detach(dev string) {
	_ = exec.Command("losetup", "-d", dev).Run()
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

// Throttle limits writes (and reads when readBPS > 0) to dev in bytes per
// second through cgroup v1 blkio throttling of the root cgroup, and lifts
// the limit in t.Cleanup. It skips t when blkio throttling is unavailable.
func Throttle(t testing.TB, dev string, writeBPS, readBPS int64) {
	t.Helper()
	mm, err := MajMin(dev)
	if err != nil {
		t.Fatal(err)
	}
	set := func(file string, bps int64) {
		p := filepath.Join(BlkioRoot, file)
		if err := os.WriteFile(p, fmt.Appendf(nil, "%s %d", mm, bps), 0); err != nil {
			t.Skipf("needs cgroup v1 blkio throttling at %s: %v", p, err)
		}
	}
	t.Cleanup(func() {
		set("blkio.throttle.write_bps_device", 0)
		set("blkio.throttle.read_bps_device", 0)
	})
	set("blkio.throttle.write_bps_device", writeBPS)
	if readBPS > 0 {
		set("blkio.throttle.read_bps_device", readBPS)
	}
}
