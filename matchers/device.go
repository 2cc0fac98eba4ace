package matchers

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Device is what the station knows about one block device, read from sysfs,
// mountinfo and /proc/swaps at one moment.
type Device struct {
	Name    string // kernel name, "sdb"
	Dev     string // "major:minor", "8:16"
	SysPath string // resolved path under the sysfs root, "devices/pci0000:00/.../block/sdb"
	Bus     string // "usb", "mmc", "loop", "ata", "nvme", "virtio", "scsi", "virtual", "" when unknown; BusFile for an image file

	VendorID, ProductID uint16 // USB idVendor/idProduct; 0 when not USB
	Serial              string // USB iSerial string
	Manufacturer        string // USB iManufacturer string
	Product             string // USB iProduct string
	Speed               string // USB speed in Mbit/s as sysfs says it, "480"
	Port                string // busnum-devpath, "1-1.4"
	USBPath             string // resolved sysfs path of the USB device (the ancestor with idVendor), for eject

	SCSIVendor, SCSIModel string // device/vendor and device/model (for nvme: the controller's model)

	Size               int64 // bytes (the size attribute × 512)
	LogicalSectorSize  int
	PhysicalSectorSize int
	Removable          bool
	ReadOnly           bool
	DiskSeq            uint64 // diskseq attribute (Linux ≥ 5.15); 0 when absent

	Partitions []string // kernel names of the disk's partitions, "sdb1", sorted
	Holders    []string // holders of the disk, its partitions and the loop devices stacked on them, "dm-0", sorted, unique
	Loops      []Loop   // loop devices stacked on the disk or its partitions, directly or through each other
	Mounts     []Mount  // filesystems mounted from the disk, its partitions or the loop devices stacked on them, and swap on them
	LoopOn     string   // for a loop device whose backing file is a block device: that device's kernel name, "sda2"
	WholeDisk  bool     // false for a partition
}

// BusFile is the Bus of an image file (see ImageFile). No block device is on
// it, so no match rule or guard takes it: image files are written only when
// named to flash or build.
const BusFile = "file"

// ImageFile returns the device object of an image file that flash or build
// writes as a stick: Name is the path as given, Bus is BusFile, Size the
// image's size in bytes; the USB attributes, port and diskseq are empty.
func ImageFile(path string, size int64) *Device {
	return &Device{Name: path, Bus: BusFile, Size: size, WholeDisk: true}
}

// Mount is one use of a disk or partition found in mountinfo or /proc/swaps.
type Mount struct {
	Device     string // kernel name of the disk or partition, "sdb1"
	MountPoint string // "/boot"; for swap, the swap area's file name
	FSType     string // "vfat"; "swap" for swap
	Source     string // mount source, "/dev/sdb1"
	// ReadOnly is true when the filesystem itself is mounted read-only
	// (mountinfo's super options say "ro"), so it writes nothing to the
	// device. A read-only bind of a filesystem mounted read-write is not;
	// swap never is.
	ReadOnly bool
}

// OSRoots returns the live system's sysfs and procfs as file systems: the
// only place in this package that names /sys and /proc.
func OSRoots() (sysfs, procfs fs.FS) {
	return os.DirFS("/sys"), os.DirFS("/proc")
}

// ReadFrom is [Read] with mountinfo and swaps taken from procfs
// ("self/mountinfo" and "swaps"), as given by [OSRoots].
func ReadFrom(sysfs, procfs fs.FS, name string) (*Device, error) {
	mi, err := fs.ReadFile(procfs, "self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	sw, err := fs.ReadFile(procfs, "swaps")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read swaps: %w", err)
	}
	return read(sysfs, procfs, strings.NewReader(string(mi)), strings.NewReader(string(sw)), name)
}

// Read builds the Device for the block device called name ("sdb") from the
// sysfs tree sysfs, the text of /proc/self/mountinfo and of /proc/swaps. A
// nil mountinfo or swaps reader means "nothing mounted" / "no swap": the
// station must pass the real ones whenever it makes a safety decision.
// A loop device's backing file is matched to a block device by its
// /dev/<name> path only; [ReadFrom] also finds device nodes elsewhere.
func Read(sysfs fs.FS, mountinfo, swaps io.Reader, name string) (*Device, error) {
	return read(sysfs, nil, mountinfo, swaps, name)
}

func read(sysfs, procfs fs.FS, mountinfo, swaps io.Reader, name string) (*Device, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return nil, fmt.Errorf("invalid block device name %q", name)
	}
	sysPath, err := findBlock(sysfs, name)
	if err != nil {
		return nil, err
	}
	d := &Device{Name: name, SysPath: sysPath}
	if err := d.readBlock(sysfs); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if err := d.readAncestry(sysfs); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if err := d.readUse(sysfs, procfs, mountinfo, swaps); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return d, nil
}

// NameOf returns the kernel name of the block device whose device number
// is dev, "major:minor" ("8:17" gives "sdb1"), through sysfs's dev/block
// links: what a stat of a device node (st_rdev) or of a file (st_dev, the
// device of its filesystem) leads to.
func NameOf(sysfs fs.FS, dev string) (string, error) {
	if !devNumber.MatchString(dev) {
		return "", fmt.Errorf("block device number %q: want major:minor", dev)
	}
	p, err := resolve(sysfs, path.Join("dev/block", dev))
	if err != nil {
		return "", fmt.Errorf("block device %s: %w", dev, err)
	}
	return path.Base(p), nil
}

var devNumber = regexp.MustCompile(`^[0-9]+:[0-9]+$`)

// findBlock resolves block/<name> or class/block/<name> to the device's
// directory under devices/.
func findBlock(sysfs fs.FS, name string) (string, error) {
	var firstErr error
	for _, dir := range []string{"block", "class/block"} {
		p, err := resolve(sysfs, path.Join(dir, name))
		if err == nil {
			return p, nil
		}
		if firstErr == nil || !errors.Is(err, fs.ErrNotExist) {
			firstErr = err
		}
	}
	if errors.Is(firstErr, fs.ErrNotExist) {
		return "", fmt.Errorf("block device %q not found in sysfs: %w", name, fs.ErrNotExist)
	}
	return "", fmt.Errorf("block device %q: %w", name, firstErr)
}

// List returns the kernel names of the whole-disk block devices, sorted. It
// reads block/ and falls back to class/block (without partitions) when the
// tree has no block/ directory.
func List(sysfs fs.FS) ([]string, error) {
	if ents, err := fs.ReadDir(sysfs, "block"); err == nil {
		return names(ents), nil
	}
	ents, err := fs.ReadDir(sysfs, "class/block")
	if err != nil {
		return nil, fmt.Errorf("list block devices: %w", err)
	}
	var disks []string
	for _, n := range names(ents) {
		if !exists(sysfs, path.Join("class/block", n), "partition") {
			disks = append(disks, n)
		}
	}
	return disks, nil
}

func names(ents []fs.DirEntry) []string {
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// readBlock reads the block device's own attributes.
func (d *Device) readBlock(sysfs fs.FS) error {
	dir := d.SysPath
	d.WholeDisk = !exists(sysfs, dir, "partition")
	disk := dir
	if !d.WholeDisk {
		disk = path.Dir(dir)
	}
	var err error
	d.Dev, _, err = attr(sysfs, dir, "dev")
	if err != nil {
		return err
	}
	sectors, err := uintAttr(sysfs, dir, "size")
	if err != nil {
		return err
	}
	if sectors > 1<<54 {
		return fmt.Errorf("size attribute %d sectors is out of range", sectors)
	}
	d.Size = int64(sectors) * 512
	if d.DiskSeq, err = uintAttr(sysfs, disk, "diskseq"); err != nil {
		return err
	}
	for _, a := range []struct {
		file string
		dst  *int
	}{{"queue/logical_block_size", &d.LogicalSectorSize}, {"queue/physical_block_size", &d.PhysicalSectorSize}} {
		v, err := uintAttr(sysfs, disk, a.file)
		if err != nil {
			return err
		}
		*a.dst = int(min(v, 1<<30))
	}
	if d.Removable, err = boolAttr(sysfs, disk, "removable"); err != nil {
		return err
	}
	if d.ReadOnly, err = boolAttr(sysfs, dir, "ro"); err != nil {
		return err
	}
	if d.WholeDisk {
		d.Partitions = partitions(sysfs, dir)
	}
	return nil
}

// partitions lists the subdirectories of a disk that hold a partition file.
func partitions(sysfs fs.FS, dir string) []string {
	ents, err := fs.ReadDir(sysfs, dir)
	if err != nil {
		return nil
	}
	var parts []string
	for _, e := range ents {
		if e.IsDir() && exists(sysfs, path.Join(dir, e.Name()), "partition") {
			parts = append(parts, e.Name())
		}
	}
	sort.Strings(parts)
	return parts
}

func uintAttr(sysfs fs.FS, dir, name string) (uint64, error) {
	s, ok, err := attr(sysfs, dir, name)
	if err != nil || !ok {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("attribute %s: %w", name, err)
	}
	return v, nil
}

func boolAttr(sysfs fs.FS, dir, name string) (bool, error) {
	v, err := uintAttr(sysfs, dir, name)
	return v != 0, err
}

var ataPort = regexp.MustCompile(`^ata[0-9]+$`)

// readAncestry walks up from the block device to find its bus, its USB
// device (for ids, strings and port) and its SCSI inquiry strings.
func (d *Device) readAncestry(sysfs fs.FS) error {
	disk := d.SysPath
	if !d.WholeDisk {
		disk = path.Dir(disk)
	}
	if dev, err := resolve(sysfs, path.Join(disk, "device")); err == nil {
		d.SCSIVendor, _, _ = attr(sysfs, dev, "vendor")
		d.SCSIModel, _, _ = attr(sysfs, dev, "model")
	}
	sawSCSI := false
	for dir := path.Dir(disk); dir != "." && dir != "devices"; dir = path.Dir(dir) {
		if exists(sysfs, dir, "idVendor") && exists(sysfs, dir, "idProduct") {
			d.Bus = "usb"
			return d.readUSB(sysfs, dir)
		}
		switch sub := linkBase(sysfs, dir, "subsystem"); {
		case sub == "mmc" || sub == "nvme" || sub == "virtio":
			d.Bus = sub
			return nil
		case sub == "scsi":
			sawSCSI = true
		}
		switch base := path.Base(dir); {
		case ataPort.MatchString(base):
			d.Bus = "ata"
			return nil
		case base == "nvme" || base == "nvme-subsystem":
			d.Bus = "nvme"
			return nil
		}
	}
	switch {
	case sawSCSI:
		d.Bus = "scsi"
	case strings.HasPrefix(disk, "devices/virtual/") && strings.HasPrefix(path.Base(disk), "loop"):
		d.Bus = "loop"
	case strings.HasPrefix(disk, "devices/virtual/"):
		d.Bus = "virtual"
	}
	return nil
}

// readUSB fills the USB fields from the USB device directory dir.
func (d *Device) readUSB(sysfs fs.FS, dir string) error {
	d.USBPath = dir
	for _, id := range []struct {
		file string
		dst  *uint16
	}{{"idVendor", &d.VendorID}, {"idProduct", &d.ProductID}} {
		s, _, err := attr(sysfs, dir, id.file)
		if err != nil {
			return err
		}
		if *id.dst, err = ParseUSBID(s); err != nil {
			return fmt.Errorf("%s/%s: %w", dir, id.file, err)
		}
	}
	for _, s := range []struct {
		file string
		dst  *string
	}{{"serial", &d.Serial}, {"manufacturer", &d.Manufacturer}, {"product", &d.Product}, {"speed", &d.Speed}} {
		var err error
		if *s.dst, _, err = attr(sysfs, dir, s.file); err != nil {
			return err
		}
	}
	bus, _, err := attr(sysfs, dir, "busnum")
	if err != nil {
		return err
	}
	devpath, _, err := attr(sysfs, dir, "devpath")
	if err != nil {
		return err
	}
	if bus != "" && devpath != "" {
		d.Port = bus + "-" + devpath
	} else {
		d.Port = path.Base(dir)
	}
	return nil
}
