package matchers_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/matchers/sysfstest"
)

func load(t *testing.T, name string) *sysfstest.Fixture {
	t.Helper()
	fx, err := sysfstest.Load("testdata/sysfs/" + name + ".txtar")
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

func read(t *testing.T, fx *sysfstest.Fixture, name string) *matchers.Device {
	t.Helper()
	d, err := matchers.Read(fx.Sys, fx.Mountinfo(), fx.Swaps(), name)
	if err != nil {
		t.Fatalf("Read(%s) error: %v", name, err)
	}
	return d
}

const (
	hubStick = "devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.4"
	reader   = "devices/pci0000:00/0000:00:1a.0/usb2/2-1"
	rpiUSB   = "devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/usb2/2-2"
	dmStick  = "devices/pci0000:00/0000:00:14.0/usb1/1-2"
)

func TestReadFixtures(t *testing.T) {
	tests := []struct {
		fixture, name string
		want          matchers.Device
	}{
		{"usb-stick-behind-hub", "sdb", matchers.Device{
			Name: "sdb", Dev: "8:16", SysPath: hubStick + "/1-1.4:1.0/host6/target6:0:0/6:0:0:0/block/sdb", Bus: "usb",
			VendorID: 0x0781, ProductID: 0x5567, Serial: "4C530001230815117432", Manufacturer: "SanDisk", Product: "Cruzer Blade",
			Speed: "480", Port: "1-1.4", USBPath: hubStick, SCSIVendor: "SanDisk", SCSIModel: "Cruzer Blade",
			Size: 30031872 * 512, LogicalSectorSize: 512, PhysicalSectorSize: 512, Removable: true, DiskSeq: 14,
			Partitions: []string{"sdb1"}, WholeDisk: true,
		}},
		{"card-reader-multi-lun", "sdc", matchers.Device{
			Name: "sdc", Dev: "8:32", SysPath: reader + "/2-1:1.0/host7/target7:0:0/7:0:0:0/block/sdc", Bus: "usb",
			VendorID: 0x0bda, ProductID: 0x0158, Serial: "20120501030900000", Manufacturer: "Generic", Product: "USB2.0-CRW",
			Speed: "480", Port: "2-1", USBPath: reader, SCSIVendor: "Generic-", SCSIModel: "SD/MMC",
			Size: 62333952 * 512, LogicalSectorSize: 512, PhysicalSectorSize: 512, Removable: true, DiskSeq: 21,
			Partitions: []string{"sdc1"}, WholeDisk: true,
		}},
		{"card-reader-multi-lun", "sdd", matchers.Device{
			Name: "sdd", Dev: "8:48", SysPath: reader + "/2-1:1.0/host7/target7:0:0/7:0:0:1/block/sdd", Bus: "usb",
			VendorID: 0x0bda, ProductID: 0x0158, Serial: "20120501030900000", Manufacturer: "Generic", Product: "USB2.0-CRW",
			Speed: "480", Port: "2-1", USBPath: reader, SCSIVendor: "Generic-", SCSIModel: "Compact Flash",
			Size: 0, LogicalSectorSize: 512, PhysicalSectorSize: 512, Removable: true, DiskSeq: 22, WholeDisk: true,
		}},
		{"sata-disk", "sda", matchers.Device{
			Name: "sda", Dev: "8:0", SysPath: "devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda", Bus: "ata",
			SCSIVendor: "ATA", SCSIModel: "Samsung SSD 860", Size: 976773168 * 512, LogicalSectorSize: 512, PhysicalSectorSize: 512,
			DiskSeq: 1, Partitions: []string{"sda1", "sda2"}, WholeDisk: true,
		}},
		{"nvme-disk", "nvme0n1", matchers.Device{
			Name: "nvme0n1", Dev: "259:0", SysPath: "devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1", Bus: "nvme",
			SCSIModel: "Samsung SSD 970 EVO Plus 1TB", Size: 1953525168 * 512, LogicalSectorSize: 512, PhysicalSectorSize: 4096,
			DiskSeq: 2, Partitions: []string{"nvme0n1p1"}, WholeDisk: true,
		}},
		{"loop-device", "loop0", matchers.Device{
			Name: "loop0", Dev: "7:0", SysPath: "devices/virtual/block/loop0", Bus: "loop", Size: 64 << 20,
			LogicalSectorSize: 512, PhysicalSectorSize: 512, DiskSeq: 9, WholeDisk: true,
		}},
		{"mmc-slot", "mmcblk1", matchers.Device{
			Name: "mmcblk1", Dev: "179:0", SysPath: "devices/platform/emmc2bus/fe340000.mmc/mmc_host/mmc1/mmc1:aaaa/block/mmcblk1", Bus: "mmc",
			Size: 62333952 * 512, LogicalSectorSize: 512, PhysicalSectorSize: 512, DiskSeq: 5, Partitions: []string{"mmcblk1p1"}, WholeDisk: true,
		}},
		{"usb-root-disk", "sda", matchers.Device{
			Name: "sda", Dev: "8:0", SysPath: rpiUSB + "/2-2:1.0/host0/target0:0:0/0:0:0:0/block/sda", Bus: "usb",
			VendorID: 0x174c, ProductID: 0x55aa, Serial: "123456789ABC", Manufacturer: "ASMedia", Product: "ASM1153E",
			Speed: "5000", Port: "2-2", USBPath: rpiUSB, SCSIVendor: "ASMT", SCSIModel: "2115",
			Size: 250069680 * 512, LogicalSectorSize: 512, PhysicalSectorSize: 512, DiskSeq: 1,
			Partitions: []string{"sda1", "sda2", "sda3"}, WholeDisk: true,
			Mounts: []matchers.Mount{
				{Device: "sda2", MountPoint: "/", FSType: "ext4", Source: "/dev/sda2"},
				{Device: "sda1", MountPoint: "/boot/firmware", FSType: "vfat", Source: "/dev/sda1"},
				{Device: "sda3", MountPoint: "/dev/sda3", FSType: "swap", Source: "/dev/sda3"},
			},
		}},
		{"usb-stick-dm-holder", "sde", matchers.Device{
			Name: "sde", Dev: "8:64", SysPath: dmStick + "/1-2:1.0/host8/target8:0:0/8:0:0:0/block/sde", Bus: "usb",
			VendorID: 0x0951, ProductID: 0x1666, Serial: "E0D55EA57414F4B1C9940123", Manufacturer: "Kingston", Product: "DataTraveler 3.0",
			Speed: "5000", Port: "1-2", USBPath: dmStick, SCSIVendor: "Kingston", SCSIModel: "DataTraveler 3.0",
			Size: 60437492 * 512, LogicalSectorSize: 512, PhysicalSectorSize: 512, Removable: true, DiskSeq: 30,
			Partitions: []string{"sde1"}, Holders: []string{"dm-0"}, WholeDisk: true,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture+"/"+tt.name, func(t *testing.T) {
			got := read(t, load(t, tt.fixture), tt.name)
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Errorf("Read(%s) mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

func TestList(t *testing.T) {
	tests := map[string][]string{
		"usb-stick-behind-hub":  {"sdb"},
		"card-reader-multi-lun": {"sdc", "sdd"},
		"sata-disk":             {"sda"},
		"nvme-disk":             {"nvme0n1"},
		"loop-device":           {"loop0"},
		"mmc-slot":              {"mmcblk1"},
		"usb-root-disk":         {"sda"},
		"usb-stick-dm-holder":   {"dm-0", "sde"},
	}
	for fixture, want := range tests {
		fx := load(t, fixture)
		got, err := matchers.List(fx.Sys)
		if err != nil {
			t.Fatalf("List(%s) error: %v", fixture, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("List(%s) mismatch (-want +got):\n%s", fixture, diff)
		}
		// Without block/, List falls back to class/block minus partitions.
		for n := range fx.Sys {
			if strings.HasPrefix(n, "block/") {
				delete(fx.Sys, n)
			}
		}
		got, err = matchers.List(fx.Sys)
		if err != nil {
			t.Fatalf("List(%s without block/) error: %v", fixture, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("List(%s without block/) mismatch (-want +got):\n%s", fixture, diff)
		}
	}
}

func TestReadPartition(t *testing.T) {
	fx := load(t, "usb-root-disk")
	got := read(t, fx, "sda1")
	want := matchers.Device{
		Name: "sda1", Dev: "8:1", SysPath: rpiUSB + "/2-2:1.0/host0/target0:0:0/0:0:0:0/block/sda/sda1", Bus: "usb",
		VendorID: 0x174c, ProductID: 0x55aa, Serial: "123456789ABC", Manufacturer: "ASMedia", Product: "ASM1153E",
		Speed: "5000", Port: "2-2", USBPath: rpiUSB, SCSIVendor: "ASMT", SCSIModel: "2115",
		Size: 524288 * 512, LogicalSectorSize: 512, PhysicalSectorSize: 512, DiskSeq: 1,
		Mounts: []matchers.Mount{{Device: "sda1", MountPoint: "/boot/firmware", FSType: "vfat", Source: "/dev/sda1"}},
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("Read(sda1) mismatch (-want +got):\n%s", diff)
	}
}

func TestReadMountinfoEscapesAndSource(t *testing.T) {
	fx := load(t, "usb-stick-behind-hub")
	// An escaped mount point, and a btrfs mount whose major:minor is an
	// anonymous device: tied to the disk by its /dev source.
	mi := "21 1 254:1 / / rw - ext4 /dev/mapper/root rw\n" +
		"40 21 8:17 / /media/USB\\040STICK rw,relatime shared:20 - vfat /dev/sdb1 rw\n" +
		"41 21 0:52 / /mnt/b rw - btrfs /dev/sdb rw\n"
	d, err := matchers.Read(fx.Sys, strings.NewReader(mi), nil, "sdb")
	if err != nil {
		t.Fatal(err)
	}
	want := []matchers.Mount{
		{Device: "sdb1", MountPoint: "/media/USB STICK", FSType: "vfat", Source: "/dev/sdb1"},
		{Device: "sdb", MountPoint: "/mnt/b", FSType: "btrfs", Source: "/dev/sdb"},
	}
	if diff := cmp.Diff(want, d.Mounts); diff != "" {
		t.Errorf("Read(sdb).Mounts mismatch (-want +got):\n%s", diff)
	}
	if _, err := matchers.Read(fx.Sys, strings.NewReader("garbage line\n"), nil, "sdb"); err == nil {
		t.Errorf("Read with malformed mountinfo = nil error, want an error")
	}
}

func TestReadErrors(t *testing.T) {
	fx := load(t, "usb-stick-behind-hub")
	if _, err := matchers.Read(fx.Sys, nil, nil, "sdz"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(sdz) error = %v, want fs.ErrNotExist", err)
	}
	for _, name := range []string{"", "..", "../block/sdb", "sdb/sdb1"} {
		if _, err := matchers.Read(fx.Sys, nil, nil, name); err == nil {
			t.Errorf("Read(%q) = nil error, want an invalid name error", name)
		}
	}
	bad, err := sysfstest.Parse([]byte("-- sys/block/a -> ../block/b --\n-- sys/block/b -> ../block/a --\n" +
		"-- sys/block/out -> ../../etc --\n-- sys/block/abs -> /etc --\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "out", "abs"} {
		if _, err := matchers.Read(bad.Sys, nil, nil, name); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Read(%s) error = %v, want a link resolution error", name, err)
		}
	}
}

// TestReadLiveSystem reads every block device of the machine running the
// test: real sysfs layouts and real mountinfo must parse.
func TestReadLiveSystem(t *testing.T) {
	sys, proc := matchers.OSRoots()
	names, err := matchers.List(sys)
	if errors.Is(err, fs.ErrNotExist) {
		testreq.Capability(t, "/sys/block", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		d, err := matchers.ReadFrom(sys, proc, n)
		if errors.Is(err, fs.ErrNotExist) {
			continue // vanished meanwhile (a loop device detached by another test)
		}
		if err != nil {
			t.Errorf("ReadFrom(%s) error: %v", n, err)
			continue
		}
		if d.Name != n || d.Dev == "" || !d.WholeDisk || !strings.HasPrefix(d.SysPath, "devices/") {
			t.Errorf("ReadFrom(%s) = %+v, want name, dev, whole disk and a devices/ path", n, d)
		}
	}
}
