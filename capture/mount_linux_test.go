package capture

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/diskimage/bmap"
	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/matchers"
)

// mount mounts dev at a new directory with options and unmounts it in
// t.Cleanup (and when the returned function is called).
func mount(t *testing.T, dev, options string) (string, func()) {
	t.Helper()
	mnt := t.TempDir()
	imagetest.Run(t, "", "mount", "-o", options, dev, mnt)
	done := false
	umount := func() {
		if !done {
			done = true
			imagetest.Run(t, "", "umount", mnt)
		}
	}
	t.Cleanup(umount)
	return mnt, umount
}

// TestCaptureMountedDevice: a block device (an ext4 loop device) mounted
// read-write is refused, naming the mount, and an output on it would be
// refused too; mounted read-only it is captured, and the image equals the
// device's bytes (its backing file's) in every mapped range. (Read through
// the page cache, it would not: the read-only ext4 mount changes its
// journal superblock in memory.)
func TestCaptureMountedDevice(t *testing.T) {
	looptest.Require(t)
	testreq.Tools(t, "mount", "umount", "mke2fs")
	dir := t.TempDir()
	files := testTree(5, false)
	src := filepath.Join(dir, "src")
	files.write(t, src)
	img := filepath.Join(dir, "master.img")
	imagetest.Run(t, "", "mke2fs", "-q", "-t", "ext4", "-d", src, img, "16M")
	dev := looptest.Attach(t, img, 0)
	sysfs, procfs := matchers.OSRoots()
	opt := Options{Output: filepath.Join(dir, "cap.img.zst"), Bmap: true, Sysfs: sysfs, Procfs: procfs}

	mnt, umount := mount(t, dev, "rw")
	_, err := Open(dev, opt)
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "is mounted read-write at "+mnt+" (ext4)") {
		t.Fatalf("Open(%s mounted rw) = %v, want a refusal naming the mount at %s", dev, err, mnt)
	}
	// The mount check comes first; this one stands behind it.
	s := &source{path: dev, block: true, sysfs: sysfs}
	if s.dev, err = matchers.ReadFrom(sysfs, procfs, filepath.Base(dev)); err != nil {
		t.Fatal(err)
	}
	if err := s.checkNotOnSource(filepath.Join(mnt, "cap.img")); err == nil || !strings.Contains(err.Error(), "which is the source") {
		t.Errorf("checkNotOnSource(an output on the source's mount) = %v, want a refusal", err)
	}
	umount()

	before := readAll(t, img)
	mount(t, dev, "ro")
	if !bytes.Equal(readAll(t, img), before) {
		t.Fatalf("mounting %s read-only changed it: the test cannot tell what the capture changed", dev)
	}
	c, res, err := capture(t, dev, opt)
	if err != nil {
		t.Fatalf("capture of %s mounted read-only = %v, want it captured", dev, err)
	}
	if !bytes.Equal(readAll(t, img), before) {
		t.Errorf("%s changed while it was captured: a capture only reads its source", dev)
	}
	if !c.Block || c.Device.Name != filepath.Base(dev) || len(c.Map.Partitions) != 1 || c.Map.Partitions[0].Whole {
		t.Errorf("capture of %s: block %v, device %+v, partitions %+v; want the block device, its ext4 mapped by allocation", dev, c.Block, c.Device, c.Map.Partitions)
	}
	checkImage(t, img, decompress(t, opt.Output), res.SHA256)
	if _, err := os.Stat(bmap.PathFor(opt.Output)); err != nil {
		t.Errorf("block map: %v", err)
	}
}
