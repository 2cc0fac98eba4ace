package matchers_test

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/matchers"
)

// attachLoop attaches a fresh sparse image file of size bytes to a free loop
// device and returns its kernel name ("loop3") and a detach function.
func attachLoop(t *testing.T, size int64) (name string, detach func()) {
	t.Helper()
	dev := looptest.Attach(t, looptest.Sparse(t, t.TempDir(), size), 0)
	return filepath.Base(dev), func() { looptest.Detach(dev) }
}

// TestLiveLoopDevice reads a real loop device, mounts a real filesystem
// on it and detaches it: the guard and Recheck must see each change.
func TestLiveLoopDevice(t *testing.T) {
	name, detach := attachLoop(t, 64<<20)
	sys, proc := matchers.OSRoots()
	d, err := matchers.ReadFrom(sys, proc, name)
	if err != nil {
		t.Fatalf("ReadFrom(%s) error: %v", name, err)
	}
	if d.Bus != "loop" || d.Size != 64<<20 || !d.WholeDisk || d.LogicalSectorSize != 512 {
		t.Errorf("ReadFrom(%s) = bus %q size %d whole %v lss %d, want loop, %d, true, 512", name, d.Bus, d.Size, d.WholeDisk, d.LogicalSectorSize, 64<<20)
	}
	loopOK := matchers.Guard{AllowedBuses: []string{"loop"}}
	if err := loopOK.Check(d); err != nil {
		t.Errorf("Guard{loop}.Check(%s) = %v, want nil", name, err)
	}
	if err := (matchers.Guard{}).Check(d); err == nil {
		t.Errorf("Guard{}.Check(%s) = nil, want a refusal (loop not allowed by default)", name)
	}
	if err := matchers.Recheck(sys, d); err != nil {
		t.Errorf("Recheck(%s) = %v, want nil", name, err)
	}
	t.Run("mounted", func(t *testing.T) { checkMounted(t, name, loopOK) })
	detach()
	var r *matchers.Refusal
	if err := matchers.Recheck(sys, d); !errors.As(err, &r) {
		t.Errorf("Recheck(%s) after detach = %v, want a refusal", name, err)
	}
}

func checkMounted(t *testing.T, name string, g matchers.Guard) {
	testreq.Tools(t, "mkfs.ext4", "mount", "umount")
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "/dev/"+name).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "/dev/"+name, dir).CombinedOutput(); err != nil {
		testreq.Capability(t, "ext4 in the kernel", fmt.Errorf("mount /dev/%s: %v: %s", name, err, out))
	}
	defer func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	}()
	sys, proc := matchers.OSRoots()
	d, err := matchers.ReadFrom(sys, proc, name)
	if err != nil {
		t.Fatalf("ReadFrom(%s) error: %v", name, err)
	}
	want := name + " is mounted at " + dir + " (ext4)"
	var r *matchers.Refusal
	if err := g.Check(d); !errors.As(err, &r) || r.Reason != want {
		t.Errorf("Check(%s mounted) = %v, want reason %q", name, err, want)
	}
}

// TestLiveRootDiskRefused finds the disk that holds / on the machine running
// the test (by the device number stat reports) and checks that even a guard
// allowing every bus refuses it.
func TestLiveRootDiskRefused(t *testing.T) {
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		t.Fatal(err)
	}
	rootDev := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	sys, proc := matchers.OSRoots()
	names, err := matchers.List(sys)
	testreq.Capability(t, "/sys/block", err)
	everyBus := matchers.Guard{AllowedBuses: []string{"usb", "mmc", "loop", "ata", "nvme", "virtio", "scsi", "virtual"}}
	found := false
	for _, n := range names {
		d, err := matchers.ReadFrom(sys, proc, n)
		if err != nil {
			continue
		}
		devs := []string{d.Dev}
		for _, p := range d.Partitions {
			if pd, err := matchers.ReadFrom(sys, proc, p); err == nil {
				devs = append(devs, pd.Dev)
			}
		}
		if !slices.Contains(devs, rootDev) {
			continue
		}
		found = true
		var r *matchers.Refusal
		if err := everyBus.Check(d); !errors.As(err, &r) {
			t.Errorf("Check(%s, which holds /) = %v, want a refusal", n, err)
		} else {
			t.Logf("%s holds / and is refused: %v", n, err)
		}
	}
	if !found {
		testreq.Skip(t, fmt.Sprintf("needs / on a disk or partition under /sys/block; it is on device %s (overlay, network or dm root)", rootDev))
	}
}

// TestLiveStackedLoop stacks loop devices on a loop device standing in for
// a stick, as `losetup -r -o 1M /dev/sdX` does: the guard must refuse the
// stick while a loop device reads it, whether that one is mounted or not,
// and whether its backing file is named /dev/loopN or is a device node
// elsewhere (found by its device number through procfs).
func TestLiveStackedLoop(t *testing.T) {
	testreq.Tools(t, "mkfs.ext4", "mount", "umount")
	looptest.Require(t)
	img := looptest.Sparse(t, t.TempDir(), 64<<20)
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-E", "offset=1048576", img, "60M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	stick := filepath.Base(looptest.Attach(t, img, 0))
	sys, proc := matchers.OSRoots()
	loopOK := matchers.Guard{AllowedBuses: []string{"loop"}}
	check := func(name, want string) {
		t.Helper()
		d, err := matchers.ReadFrom(sys, proc, name)
		if err != nil {
			t.Fatalf("ReadFrom(%s) error: %v", name, err)
		}
		var r *matchers.Refusal
		if err := loopOK.Check(d); !errors.As(err, &r) || r.Reason != want {
			t.Errorf("Check(%s) = %v, want reason %q", name, err, want)
		}
	}

	// A device node of the stick outside /dev, as the backing file.
	node := filepath.Join(t.TempDir(), "node")
	var st unix.Stat_t
	if err := unix.Stat("/dev/"+stick, &st); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(node, unix.S_IFBLK|0o600, int(st.Rdev)); err != nil {
		t.Fatal(err)
	}
	byNode := looptest.AttachWith(t, node, "--read-only")
	check(stick, "it is in use by "+filepath.Base(byNode)+", a loop device on "+stick)
	looptest.Detach(byNode)

	peek := looptest.AttachWith(t, "/dev/"+stick, "--read-only", "--offset", "1048576")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-o", "ro", peek, dir).CombinedOutput(); err != nil {
		testreq.Capability(t, "ext4 in the kernel", fmt.Errorf("mount %s: %v: %s", peek, err, out))
	}
	defer func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	}()
	p := filepath.Base(peek)
	check(stick, p+" is mounted at "+dir+" (ext4), and "+p+" is a loop device on "+stick)
	check(p, "it is a loop device on the block device "+stick+": writing it would write "+stick)
}
