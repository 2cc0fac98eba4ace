//go:build linux

package blockdev

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
)

func TestOpenLoop(t *testing.T) {
	for _, ss := range []int{512, 4096} {
		t.Run(map[int]string{512: "512", 4096: "4K"}[ss], func(t *testing.T) {
			img := looptest.Sparse(t, t.TempDir(), 8<<20)
			dev := looptest.Attach(t, img, ss)
			d, err := Open(dev, Options{})
			if err != nil {
				t.Fatalf("Open(%s) = %v", dev, err)
			}
			defer d.Close()
			if !d.Block || d.Size != 8<<20 || d.LogicalSectorSize != ss || !d.Direct {
				t.Errorf("Open(%s) = Block %v Size %d Logical %d Direct %v, want true %d %d true",
					dev, d.Block, d.Size, d.LogicalSectorSize, d.Direct, 8<<20, ss)
			}
			// A second exclusive open fails the way a mounted partition does.
			if d2, err := Open(dev, Options{}); !errors.Is(err, ErrBusy) {
				if d2 != nil {
					d2.Close()
				}
				t.Errorf("second Open(%s) error = %v, want ErrBusy", dev, err)
			}
			roundTrip(t, d)
		})
	}
}

func TestOpenImageFile(t *testing.T) {
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 8<<20+1000); err != nil { // odd size: unaligned tail
		t.Fatal(err)
	}
	d, err := Open(img, Options{})
	if err != nil {
		t.Fatalf("Open(%s) = %v", img, err)
	}
	defer d.Close()
	if d.Block || d.Size != 8<<20+1000 {
		t.Errorf("Open(%s) = Block %v Size %d, want false %d", img, d.Block, d.Size, 8<<20+1000)
	}
	roundTrip(t, d)
	// The unaligned tail goes through the page cache and must still land.
	tail := []byte("tail of an odd-sized image")
	if _, err := d.WriteAt(tail, d.Size-int64(len(tail))); err != nil {
		t.Fatalf("WriteAt(tail) = %v", err)
	}
	got := make([]byte, len(tail))
	if _, err := d.ReadAt(got, d.Size-int64(len(tail))); err != nil || !bytes.Equal(got, tail) {
		t.Errorf("ReadAt(tail) = %q, %v, want %q", got, err, tail)
	}
	// A read past the end is a short read, not silence.
	if _, err := d.ReadAt(make([]byte, 4096), d.Size-100); err == nil {
		t.Errorf("ReadAt(past end) error = nil, want short read")
	}
}

func roundTrip(t *testing.T, d *Device) {
	t.Helper()
	buf := AlignedBuffer(1 << 20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	if _, err := d.WriteAt(buf, 1<<20); err != nil {
		t.Fatalf("WriteAt = %v", err)
	}
	if err := d.Flush(); err != nil {
		t.Fatalf("Flush = %v", err)
	}
	got := AlignedBuffer(1 << 20)
	if _, err := d.ReadAt(got, 1<<20); err != nil || !bytes.Equal(got, buf) {
		t.Fatalf("ReadAt after WriteAt: err %v, equal %v, want nil, true", err, bytes.Equal(got, buf))
	}
	if err := d.ZeroOut(1<<20+4096, 8192); err != nil {
		t.Fatalf("ZeroOut = %v", err)
	}
	if _, err := d.ReadAt(got[:16384], 1<<20); err != nil {
		t.Fatal(err)
	}
	want := append(append(bytes.Clone(buf[:4096]), make([]byte, 8192)...), buf[12288:16384]...)
	if !bytes.Equal(got[:16384], want) {
		t.Errorf("ZeroOut(+4096, 8192) left %x..., want zeros in the middle", got[4096:4112])
	}
	if d.Block {
		if err := d.Discard(2<<20, 1<<20); err != nil && !errors.Is(err, ErrNotSupported) {
			t.Errorf("Discard = %v, want nil or ErrNotSupported", err)
		}
		if d.Gone() {
			t.Errorf("Gone() = true on an attached device, want false")
		}
	}
}

func TestRemoveFromSysfs(t *testing.T) {
	root := t.TempDir()
	usb := filepath.Join(root, "devices/pci0000:00/0000:00:14.0/usb1/1-1")
	scsi := filepath.Join(usb, "1-1:1.0/host6/target6:0:0/6:0:0:0")
	disk := filepath.Join(scsi, "block/sdb")
	for _, d := range []string{disk} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(usb, "idVendor"), filepath.Join(usb, "remove"), filepath.Join(scsi, "delete")} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../../../6:0:0:0", filepath.Join(disk, "device")); err != nil {
		t.Fatal(err)
	}
	if err := RemoveFromSysfs(disk); err != nil {
		t.Fatalf("RemoveFromSysfs = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(usb, "remove")); string(b) != "1" {
		t.Errorf("usb remove = %q, want %q", b, "1")
	}
	// Without a USB ancestor, the SCSI device is deleted instead.
	os.Remove(filepath.Join(usb, "idVendor"))
	if err := RemoveFromSysfs(disk); err != nil {
		t.Fatalf("RemoveFromSysfs (no USB) = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(scsi, "delete")); string(b) != "1" {
		t.Errorf("scsi delete = %q, want %q", b, "1")
	}
}

func TestPowerOffLoop(t *testing.T) {
	img := looptest.Sparse(t, t.TempDir(), 1<<20)
	dev := looptest.Attach(t, img, 0)
	d, err := Open(dev, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A loop device has no SG_IO and no device link: PowerOff says so and
	// still closes the device (a second exclusive open works).
	if err := d.PowerOff("/sys"); err == nil {
		t.Errorf("PowerOff(%s) = nil, want an error about the missing device link", dev)
	}
	d2, err := Open(dev, Options{})
	if err != nil {
		t.Fatalf("Open after PowerOff = %v, want the device closed", err)
	}
	d2.Close()
}
