//go:build linux

package blockdev

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sgIO is the SG_IO ioctl (scsi/sg.h); neither it nor sg_io_hdr is in x/sys.
const sgIO = 0x2285

const sgDxferNone = -1

// sgIOHdr mirrors struct sg_io_hdr from <scsi/sg.h>. Go lays the fields out
// with the same natural alignment as C.
type sgIOHdr struct {
	InterfaceID    int32
	DxferDirection int32
	CmdLen         uint8
	MxSbLen        uint8
	IovecCount     uint16
	DxferLen       uint32
	Dxferp         unsafe.Pointer
	Cmdp           unsafe.Pointer
	Sbp            unsafe.Pointer
	Timeout        uint32
	Flags          uint32
	PackID         int32
	UsrPtr         unsafe.Pointer
	Status         uint8
	MaskedStatus   uint8
	MsgStatus      uint8
	SbLenWr        uint8
	HostStatus     uint16
	DriverStatus   uint16
	Resid          int32
	Duration       uint32
	Info           uint32
}

// SCSIError is a SCSI command that the device completed with an error.
type SCSIError struct {
	Command              string
	Status, Host, Driver int
	SenseKey, ASC, ASCQ  byte
}

// Error describes the failed command and its sense data.
func (e *SCSIError) Error() string {
	return fmt.Sprintf("SCSI %s failed: status %#x host %#x driver %#x sense %#x/%#x/%#x",
		e.Command, e.Status, e.Host, e.Driver, e.SenseKey, e.ASC, e.ASCQ)
}

// scsi sends a command without a data phase.
func (d *Device) scsi(name string, cdb []byte, timeout time.Duration) error {
	sense := make([]byte, 32)
	h := sgIOHdr{
		InterfaceID:    'S',
		DxferDirection: sgDxferNone,
		CmdLen:         uint8(len(cdb)),
		MxSbLen:        uint8(len(sense)),
		Cmdp:           unsafe.Pointer(&cdb[0]),
		Sbp:            unsafe.Pointer(&sense[0]),
		Timeout:        uint32(timeout.Milliseconds()),
	}
	if d.m != nil {
		return fmt.Errorf("SCSI %s on %s: %w: an in-process medium", name, d.Path, ErrNotSupported)
	}
	if err := ioctlPtr(int(d.f.Fd()), sgIO, unsafe.Pointer(&h)); err != nil {
		return fmt.Errorf("SCSI %s on %s: %w", name, d.Path, err)
	}
	if h.Status != 0 || h.HostStatus != 0 || h.DriverStatus&^0x08 != 0 {
		e := &SCSIError{Command: name, Status: int(h.Status), Host: int(h.HostStatus), Driver: int(h.DriverStatus)}
		if h.SbLenWr >= 14 && sense[0]&0x7f >= 0x70 { // fixed format sense
			e.SenseKey, e.ASC, e.ASCQ = sense[2]&0x0f, sense[12], sense[13]
		}
		return fmt.Errorf("%s: %w", d.Path, e)
	}
	return nil
}

// SyncCache sends SCSI SYNCHRONIZE CACHE(10) for the whole device, so the
// stick writes its volatile cache to flash. The error wraps ErrNotSupported
// when the device is not a SCSI disk (a loop device, an image file).
func (d *Device) SyncCache() error {
	if !d.Block {
		return fmt.Errorf("SYNCHRONIZE CACHE %s: %w: not a block device", d.Path, ErrNotSupported)
	}
	err := d.scsi("SYNCHRONIZE CACHE", []byte{0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 60*time.Second)
	return notSCSI(err)
}

// notSCSI marks the errno of a device that has no SG_IO as ErrNotSupported.
func notSCSI(err error) error {
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("%w (%w)", ErrNotSupported, err)
	}
	return err
}

// PowerOff ejects a stick the way udisks2 does: fsync, SYNCHRONIZE CACHE,
// PREVENT ALLOW MEDIUM REMOVAL (allow), START STOP UNIT with start=0 and loej=1, close, and then write "1" to the
// "remove" attribute of the USB device above the disk in sysfs (the first
// ancestor of <sysfsRoot>/dev/block/MAJ:MIN/device that has idVendor); when
// there is none, it writes "1" to the disk's device/delete. sysfsRoot is
// normally "/sys". The device is closed even on error. For an image file
// PowerOff only syncs and closes.
//
// SCSI commands a device does not support (a loop device has no SG_IO) are
// skipped; other SCSI failures are returned after the removal was tried.
func (d *Device) PowerOff(sysfsRoot string) error {
	if !d.Block {
		err := d.Sync()
		return errors.Join(err, d.Close())
	}
	dir, dirErr := d.sysfsDir(sysfsRoot)
	var errs []error
	errs = append(errs, d.Sync())
	if err := d.SyncCache(); !errors.Is(err, ErrNotSupported) {
		errs = append(errs, err)
	}
	// The sd driver locks a removable disk's medium while it is open
	// (PREVENT MEDIUM REMOVAL), and START STOP UNIT with loej=1 then fails
	// with sense 5/53/02 "medium removal prevented": allow removal first.
	err := notSCSI(d.scsi("PREVENT ALLOW MEDIUM REMOVAL", []byte{0x1e, 0, 0, 0, 0, 0}, 30*time.Second))
	if !errors.Is(err, ErrNotSupported) {
		errs = append(errs, err)
	}
	err = notSCSI(d.scsi("START STOP UNIT", []byte{0x1b, 0, 0, 0, 0x02, 0}, 30*time.Second))
	if !errors.Is(err, ErrNotSupported) {
		errs = append(errs, err)
	}
	errs = append(errs, d.Close())
	if dirErr != nil {
		return errors.Join(append(errs, dirErr)...)
	}
	return errors.Join(append(errs, RemoveFromSysfs(dir))...)
}

// RemoveFromSysfs detaches the disk whose sysfs directory is devDir (a
// resolved path such as /sys/devices/.../block/sdb): it writes "1" to the
// "remove" attribute of the nearest ancestor of devDir/device that has an
// idVendor file (the USB device), or, when there is none, to
// devDir/device/delete (which detaches only the SCSI disk).
func RemoveFromSysfs(devDir string) error {
	dev, err := filepath.EvalSymlinks(filepath.Join(devDir, "device"))
	if err != nil {
		return fmt.Errorf("power off %s: no device link in sysfs: %w", filepath.Base(devDir), err)
	}
	for dir := dev; dir != "/" && dir != "."; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "idVendor")); err == nil {
			return writeOne(filepath.Join(dir, "remove"))
		}
		if filepath.Base(dir) == "devices" {
			break
		}
	}
	return writeOne(filepath.Join(dev, "delete"))
}

func writeOne(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("power off: %w", err)
	}
	_, err = f.Write([]byte("1"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("power off: write %s: %w", path, err)
	}
	return nil
}
