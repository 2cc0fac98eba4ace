//go:build !linux

package blockdev

import (
	"fmt"
	"runtime"
)

// Device is an open target. On this system none can be opened.
type Device struct {
	Path                                  string
	Size                                  int64
	LogicalSectorSize, PhysicalSectorSize int
	Block, Direct                         bool
	Major, Minor                          uint32

	m Medium
}

func unsupported(op string) error {
	return fmt.Errorf("%s: %w: flashpipe writes sticks only on Linux (this is %s); run the station on a Linux host", op, ErrNotSupported, runtime.GOOS)
}

// Open always fails on this system.
func Open(path string, opts Options) (*Device, error) { return nil, unsupported("open " + path) }

// Close closes an in-process medium; otherwise it does nothing.
func (d *Device) Close() error {
	if d.m != nil {
		return d.m.Close()
	}
	return nil
}

// Fd returns an invalid descriptor.
func (d *Device) Fd() uintptr { return ^uintptr(0) }

// ReadAt fails on this system unless the Device is on a Medium.
func (d *Device) ReadAt(b []byte, off int64) (int, error) {
	if d.m != nil {
		return d.m.ReadAt(b, off)
	}
	return 0, unsupported("read")
}

// WriteAt fails on this system unless the Device is on a Medium.
func (d *Device) WriteAt(b []byte, off int64) (int, error) {
	if d.m != nil {
		return d.m.WriteAt(b, off)
	}
	return 0, unsupported("write")
}

// Sync fails on this system unless the Device is on a Medium.
func (d *Device) Sync() error {
	if d.m != nil {
		return d.m.Sync()
	}
	return unsupported("sync")
}

// Flush fails on this system unless the Device is on a Medium.
func (d *Device) Flush() error {
	if d.m != nil {
		return d.m.Sync()
	}
	return unsupported("flush")
}

// ZeroOut fails on this system unless the Device is on a Medium.
func (d *Device) ZeroOut(off, n int64) error {
	if d.m != nil {
		return d.m.ZeroOut(off, n)
	}
	return unsupported("zero out")
}

// Discard fails on this system unless the Device is on a Medium.
func (d *Device) Discard(off, n int64) error {
	if d.m != nil {
		return d.m.Discard(off, n)
	}
	return unsupported("discard")
}

// Gone reports whether a Medium is gone; otherwise false.
func (d *Device) Gone() bool {
	if d.m != nil {
		return d.m.Gone()
	}
	return false
}

// SyncCache always fails on this system.
func (d *Device) SyncCache() error { return unsupported("synchronize cache") }

// PowerOff always fails on this system.
func (d *Device) PowerOff(sysfsRoot string) error { return unsupported("power off") }

// RemoveFromSysfs always fails on this system.
func RemoveFromSysfs(devDir string) error { return unsupported("power off") }

// AlignedBuffer returns n bytes rounded up to Align.
func AlignedBuffer(n int) []byte { return make([]byte, alignUp(int64(n), Align)) }

// AttachLoop is not supported on this system.
func AttachLoop(devDir, backing string, offset, size int64) (string, func() error, error) {
	return "", nil, unsupported("attach a loop device")
}
