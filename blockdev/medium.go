package blockdev

// Medium is a device that lives in the process rather than behind a file
// descriptor: blockdev/fakedev's sticks that lie about their size, stall
// or fail, for the tests of the probe and the executor. A Device made by
// OnMedium hands every read, write, zeroing, discard and sync to it, so the
// code under test runs unchanged on a stick that misbehaves on purpose.
type Medium interface {
	ReadAt(b []byte, off int64) (int, error)
	WriteAt(b []byte, off int64) (int, error)
	ZeroOut(off, n int64) error
	Discard(off, n int64) error
	// Sync flushes written data, as fsync does on a block device.
	Sync() error
	// Gone reports whether the medium has been pulled.
	Gone() bool
	Close() error
}

// OnMedium returns a Device of size bytes and the given logical sector
// size whose I/O goes to m. It reports itself as a block device opened
// with O_DIRECT; Fd returns an invalid descriptor, so ioctls (eject) fail.
func OnMedium(path string, size int64, sectorSize int, m Medium) *Device {
	return &Device{Path: path, Size: size, LogicalSectorSize: sectorSize, PhysicalSectorSize: sectorSize,
		Block: true, Direct: true, m: m}
}
