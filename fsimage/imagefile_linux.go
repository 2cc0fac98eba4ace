package fsimage

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// errNoCopyRange means the kernel cannot copy between these two files
// (copy_file_range across filesystems, or not supported): copy through
// memory instead.
var errNoCopyRange = errors.New("copy_file_range not possible")

// copyFileRange copies n bytes of src at srcOff to dst at dstOff inside the
// kernel. It returns fewer than n bytes only at the end of src, or with
// errNoCopyRange once the kernel refuses, after what it did copy.
func copyFileRange(dst, src *os.File, dstOff, srcOff, n int64) (int64, error) {
	var done int64
	for done < n {
		roff, woff := srcOff+done, dstOff+done
		k, err := unix.CopyFileRange(int(src.Fd()), &roff, int(dst.Fd()), &woff, int(min(n-done, 1<<30)), 0)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EXDEV || err == unix.EINVAL || err == unix.ENOSYS || err == unix.EOPNOTSUPP || err == unix.EPERM:
			return done, errNoCopyRange
		case err != nil:
			return done, &os.PathError{Op: "copy_file_range", Path: src.Name(), Err: err}
		case k == 0:
			return done, nil
		}
		done += int64(k)
	}
	return done, nil
}

// dataAfter returns the first run of data of f in [off, end): lo is where
// it starts (end when there is none) and hi where it ends, at the next hole
// or end. Without SEEK_DATA the whole range is data.
func dataAfter(f *os.File, off, end int64) (lo, hi int64) {
	fd := int(f.Fd())
	lo, err := unix.Seek(fd, off, unix.SEEK_DATA)
	if err == unix.ENXIO {
		return end, end
	}
	if err != nil {
		return off, end
	}
	if lo >= end {
		return end, end
	}
	hi, err = unix.Seek(fd, lo, unix.SEEK_HOLE)
	if err != nil || hi > end {
		hi = end
	}
	return lo, hi
}

// startWriteback asks the kernel to start writing [off, off+n) of f out
// without waiting for it; errors are left to the final fsync.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
