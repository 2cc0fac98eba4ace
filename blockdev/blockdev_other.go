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
}

func unsupported(op string) error {
	return fmt.Errorf("%s: %w: flashpipe writes sticks only on Linux (this is %s); run the station on a Linux host", op, ErrNotSupported, runtime.GOOS)
}

// Open always fails on this system.
func Open(path string, opts Options) (*Device, error) { return nil, unsupported("open " + path) }

// Close does nothing.
func (d *Device) Close() error { return nil }

// Fd returns an invalid descriptor.
func (d *Device) Fd() uintptr { return ^uintptr(0) }

// ReadAt always fails on this system.
func (d *Device) ReadAt(b []byte, off int64) (int, error) { return 0, unsupported("read") }

// WriteAt always fails on this system.
func (d *Device) WriteAt(b []byte, off int64) (int, error) { return 0, unsupported("write") }

// Sync always fails on this system.
func (d *Device) Sync() error { return unsupported("sync") }

// Flush always fails on this system.
func (d *Device) Flush() error { return unsupported("flush") }

// ZeroOut always fails on this system.
func (d *Device) ZeroOut(off, n int64) error { return unsupported("zero out") }

// Discard always fails on this system.
func (d *Device) Discard(off, n int64) error { return unsupported("discard") }

// Gone reports false.
func (d *Device) Gone() bool { return false }

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
