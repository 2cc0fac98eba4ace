//go:build linux

package blockdev

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Device is an open target: a block device or a regular image file.
type Device struct {
	// Path is the path the device was opened with.
	Path string
	// Size is the capacity in bytes.
	Size int64
	// LogicalSectorSize and PhysicalSectorSize come from BLKSSZGET and
	// BLKPBSZGET; for an image file both are 512.
	LogicalSectorSize  int
	PhysicalSectorSize int
	// Block is true for a block device, false for a regular file.
	Block bool
	// Direct is true when reads and writes bypass the page cache (O_DIRECT
	// was accepted by open and by one aligned read).
	Direct bool
	// Major and Minor are the device numbers of a block device.
	Major, Minor uint32

	f *os.File
	m Medium // set by OnMedium: I/O goes there, f is nil
	// mu serialises toggling O_DIRECT off for an unaligned I/O.
	mu sync.RWMutex
}

// Open opens path for the executor. A block device is opened O_RDWR|O_EXCL
// (so it fails with ErrBusy while a partition is mounted); a regular file is
// opened O_RDWR. O_DIRECT is probed: Open tries it, does one aligned read,
// and on EINVAL falls back to buffered I/O with Direct=false.
func Open(path string, opts Options) (*Device, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, opError("open", path, err)
	}
	d := &Device{Path: path}
	switch {
	case st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0:
		d.Block = true
	case st.Mode().IsRegular():
	default:
		return nil, fmt.Errorf("open %s: not a block device or regular file (mode %v)", path, st.Mode())
	}
	flags := unix.O_RDWR | unix.O_CLOEXEC
	if opts.ReadOnly {
		flags = unix.O_RDONLY | unix.O_CLOEXEC
	}
	if d.Block {
		flags |= unix.O_EXCL
	}
	if !opts.NoDirect {
		d.f, err = openDirect(path, flags)
		d.Direct = err == nil
	}
	if d.f == nil {
		d.f, err = openFile(path, flags)
		if err != nil {
			return nil, err
		}
	}
	if err := d.probe(st); err != nil {
		d.f.Close()
		return nil, err
	}
	return d, nil
}

func openFile(path string, flags int) (*os.File, error) {
	f, err := os.OpenFile(path, flags, 0)
	if errors.Is(err, unix.EBUSY) {
		return nil, fmt.Errorf("open %s: %w (%w)", path, ErrBusy, err)
	}
	if err != nil {
		return nil, opError("open", path, err)
	}
	return f, nil
}

// openDirect opens with O_DIRECT and checks that an aligned read works.
func openDirect(path string, flags int) (*os.File, error) {
	f, err := openFile(path, flags|unix.O_DIRECT)
	if err != nil {
		return nil, err
	}
	buf := AlignedBuffer(Align)
	if _, err := unix.Pread(int(f.Fd()), buf, 0); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// probe fills in size and sector sizes.
func (d *Device) probe(st os.FileInfo) error {
	if !d.Block {
		d.Size = st.Size()
		d.LogicalSectorSize, d.PhysicalSectorSize = 512, 512
		return nil
	}
	fd := int(d.f.Fd())
	var size uint64
	if err := ioctlPtr(fd, unix.BLKGETSIZE64, unsafe.Pointer(&size)); err != nil {
		return opError("BLKGETSIZE64", d.Path, err)
	}
	d.Size = int64(size)
	var err error
	if d.LogicalSectorSize, err = unix.IoctlGetInt(fd, unix.BLKSSZGET); err != nil {
		return opError("BLKSSZGET", d.Path, err)
	}
	if d.PhysicalSectorSize, err = unix.IoctlGetInt(fd, unix.BLKPBSZGET); err != nil {
		return opError("BLKPBSZGET", d.Path, err)
	}
	var sst unix.Stat_t
	if err := unix.Fstat(fd, &sst); err != nil {
		return opError("stat", d.Path, err)
	}
	d.Major, d.Minor = unix.Major(sst.Rdev), unix.Minor(sst.Rdev)
	return nil
}

func ioctlPtr(fd int, req uint, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

// Close closes the device.
func (d *Device) Close() error {
	if d.m != nil {
		return d.m.Close()
	}
	return d.f.Close()
}

// Fd returns the file descriptor, for callers that need an ioctl of their own.
func (d *Device) Fd() uintptr {
	if d.m != nil {
		return ^uintptr(0)
	}
	return d.f.Fd()
}

// aligned reports whether an I/O of b at off can go through O_DIRECT.
func aligned(b []byte, off int64) bool {
	return off%Align == 0 && len(b)%Align == 0 && uintptr(unsafe.Pointer(unsafe.SliceData(b)))%Align == 0
}

// ReadAt reads len(b) bytes at off. With Direct, off, len(b) and &b[0] should
// be multiples of Align (use AlignedBuffer); an unaligned read is done
// through the page cache instead. A short read is an error wrapping
// io.ErrUnexpectedEOF.
func (d *Device) ReadAt(b []byte, off int64) (int, error) {
	return d.io(b, off, false)
}

// WriteAt writes b at off, with the same alignment rules as ReadAt.
func (d *Device) WriteAt(b []byte, off int64) (int, error) {
	return d.io(b, off, true)
}

func (d *Device) io(b []byte, off int64, write bool) (int, error) {
	if d.m != nil {
		if write {
			return d.m.WriteAt(b, off)
		}
		return d.m.ReadAt(b, off)
	}
	if d.Direct && !aligned(b, off) {
		return d.unalignedIO(b, off, write)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.rawIO(b, off, write)
}

// rawIO loops over pread/pwrite until done, an error, or end of device.
func (d *Device) rawIO(b []byte, off int64, write bool) (int, error) {
	op, fn := "read", unix.Pread
	if write {
		op, fn = "write", unix.Pwrite
	}
	fd := int(d.f.Fd())
	done := 0
	for done < len(b) {
		n, err := fn(fd, b[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, fmt.Errorf("%s %s at %d: %w", op, d.Path, off+int64(done), err)
		}
		if n == 0 {
			return done, fmt.Errorf("%s %s at %d: %w (short %s: %d of %d bytes)", op, d.Path, off, errShort, op, done, len(b))
		}
		done += n
	}
	return done, nil
}

var errShort = errors.New("unexpected end of device")

// unalignedIO turns O_DIRECT off for one I/O (fcntl F_SETFL may change
// O_DIRECT on Linux) and back on afterwards.
func (d *Device) unalignedIO(b []byte, off int64, write bool) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fd := int(d.f.Fd())
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return 0, opError("fcntl", d.Path, err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_DIRECT); err != nil {
		return 0, opError("fcntl", d.Path, err)
	}
	n, ioErr := d.rawIO(b, off, write)
	if write && ioErr == nil {
		// Push the buffered bytes out now so a later O_DIRECT read sees them.
		ioErr = d.syncRange(off, int64(len(b)))
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl); err != nil && ioErr == nil {
		ioErr = opError("fcntl", d.Path, err)
	}
	return n, ioErr
}

func (d *Device) syncRange(off, n int64) error {
	const flags = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	if err := unix.SyncFileRange(int(d.f.Fd()), off, n, flags); err != nil {
		return opError("sync_file_range", d.Path, err)
	}
	_ = unix.Fadvise(int(d.f.Fd()), off, n, unix.FADV_DONTNEED)
	return nil
}

// Sync flushes written data to the device and the device's volatile cache
// (fsync on a block device sends a cache flush to the drive).
func (d *Device) Sync() error {
	if d.m != nil {
		return d.m.Sync()
	}
	if err := d.f.Sync(); err != nil {
		return opError("fsync", d.Path, err)
	}
	return nil
}

// Flush makes the next reads come from the medium: fsync, then for a block
// device BLKFLSBUF, which drops the device's page cache; for a regular file
// posix_fadvise(DONTNEED) over the whole file, which drops its clean cached
// pages (after the fsync every page is clean, so none survive unless another
// process reads the file concurrently).
func (d *Device) Flush() error {
	if err := d.Sync(); err != nil || d.m != nil {
		return err
	}
	fd := int(d.f.Fd())
	if d.Block {
		if err := ioctlPtr(fd, unix.BLKFLSBUF, nil); err != nil {
			return opError("BLKFLSBUF", d.Path, err)
		}
		return nil
	}
	if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
		return opError("fadvise", d.Path, err)
	}
	return nil
}

// ZeroOut makes [off, off+n) read back as zeros: BLKZEROOUT on a block
// device (the kernel writes zeros itself when the device has no faster way),
// a punched hole in a regular file (fallocate PUNCH_HOLE, or written zeros
// where the filesystem cannot punch). off and n must be multiples of the
// logical sector size.
func (d *Device) ZeroOut(off, n int64) error {
	if d.m != nil {
		return d.m.ZeroOut(off, n)
	}
	fd := int(d.f.Fd())
	if d.Block {
		r := [2]uint64{uint64(off), uint64(n)}
		if err := ioctlPtr(fd, unix.BLKZEROOUT, unsafe.Pointer(&r)); err != nil {
			return fmt.Errorf("BLKZEROOUT %s [%d, +%d): %w", d.Path, off, n, err)
		}
		return nil
	}
	err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	if err == nil {
		return nil
	}
	if err != unix.EOPNOTSUPP {
		return fmt.Errorf("punch hole %s [%d, +%d): %w", d.Path, off, n, err)
	}
	return d.writeZeros(off, n)
}

// writeZeros writes n zero bytes at off in 1 MiB aligned writes.
func (d *Device) writeZeros(off, n int64) error {
	buf := AlignedBuffer(1 << 20)
	for n > 0 {
		c := min(n, int64(len(buf)))
		if _, err := d.WriteAt(buf[:c], off); err != nil {
			return err
		}
		off, n = off+c, n-c
	}
	return nil
}

// Discard tells the device that [off, off+n) is unused (BLKDISCARD). Only
// block devices can discard; the error wraps ErrNotSupported when the device
// does not support it (most USB sticks behind usb-storage do not), so the
// caller can fall back to ZeroOut. After a discard the range's content is
// undefined on many devices.
func (d *Device) Discard(off, n int64) error {
	if d.m != nil {
		return d.m.Discard(off, n)
	}
	if !d.Block {
		return fmt.Errorf("discard %s: %w: not a block device", d.Path, ErrNotSupported)
	}
	r := [2]uint64{uint64(off), uint64(n)}
	err := ioctlPtr(int(d.f.Fd()), unix.BLKDISCARD, unsafe.Pointer(&r))
	if err == unix.EOPNOTSUPP {
		return fmt.Errorf("BLKDISCARD %s: %w (%w)", d.Path, ErrNotSupported, err)
	}
	if err != nil {
		return fmt.Errorf("BLKDISCARD %s [%d, +%d): %w", d.Path, off, n, err)
	}
	return nil
}

// Gone reports whether the device has disappeared since it was opened: its
// node is missing or now names another device, or the block device's
// capacity is no longer what it was at Open (zero when a card is pulled
// from a reader or a loop device's backing file is gone; anything else means
// the medium changed under the job).
func (d *Device) Gone() bool {
	if d.m != nil {
		return d.m.Gone()
	}
	if !d.Block {
		return false
	}
	var st unix.Stat_t
	if err := unix.Stat(d.Path, &st); err != nil {
		return true
	}
	if unix.Major(st.Rdev) != d.Major || unix.Minor(st.Rdev) != d.Minor {
		return true
	}
	var size uint64
	if err := ioctlPtr(int(d.f.Fd()), unix.BLKGETSIZE64, unsafe.Pointer(&size)); err != nil {
		return true
	}
	return int64(size) != d.Size
}

// sysfsDir returns the device's directory in sysfs: the target of
// <sysfsRoot>/dev/block/MAJ:MIN.
func (d *Device) sysfsDir(sysfsRoot string) (string, error) {
	link := filepath.Join(sysfsRoot, "dev", "block", fmt.Sprintf("%d:%d", d.Major, d.Minor))
	dir, err := filepath.EvalSymlinks(link)
	if err != nil {
		return "", fmt.Errorf("find %s in sysfs: %w", d.Path, err)
	}
	return dir, nil
}

// AlignedBuffer returns n bytes (n rounded up to Align) whose first byte is
// aligned to Align, as O_DIRECT needs.
func AlignedBuffer(n int) []byte {
	n = int(alignUp(int64(n), Align))
	raw := make([]byte, n+Align)
	skip := (Align - int(uintptr(unsafe.Pointer(unsafe.SliceData(raw)))%Align)) % Align
	return raw[skip : skip+n : skip+n]
}
