package capture

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/matchers"
)

// source is the disk being captured, open for reading only.
type source struct {
	path          string
	f             *os.File
	r             io.ReaderAt // f, or a directReader of it
	size          int64
	block         bool
	dev           *matchers.Device // a block device as sysfs and mountinfo show it
	state         fileState        // the file or device node when it was opened
	sysfs, procfs fs.FS
}

// openSource opens path for reading: a regular file (never anything that
// could block in open, such as a FIFO: see fsimage.OpenRegular) or a block
// device that nothing has mounted read-write (see checkUnwritten). Nothing
// is ever opened for writing, and a block device is not opened
// exclusively: a read-only mount of it may stay.
func openSource(path string, sysfs, procfs fs.FS) (*source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	s := &source{path: path, sysfs: sysfs, procfs: procfs}
	switch {
	case fi.Mode().IsRegular():
		f, fi, err := fsimage.OpenRegular(path)
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		s.f, s.r, s.size, s.state = f, f, fi.Size(), stateOf(fi)
	case fi.Mode()&fs.ModeDevice != 0 && fi.Mode()&fs.ModeCharDevice == 0:
		if err := s.openBlock(fi); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("source %s is a %s: capture reads a block device (a stick, /dev/sdX) or an image file", path, fsimage.KindOf(fi.Mode()))
	}
	if s.size <= 0 {
		s.f.Close()
		return nil, fmt.Errorf("source %s is empty (a card reader without a card?)", path)
	}
	return s, nil
}

// openBlock identifies the block device fi in sysfs, refuses it when it
// may be written while it is read, and opens it read-only.
func (s *source) openBlock(fi fs.FileInfo) error {
	if s.sysfs == nil || s.procfs == nil {
		return fmt.Errorf("source %s is a block device, and capture was given no sysfs and procfs to check how it is used", s.path)
	}
	st := stateOf(fi)
	name, err := matchers.NameOf(s.sysfs, st.rdev)
	if err != nil {
		return fmt.Errorf("source %s: cannot find the block device in sysfs: %w", s.path, err)
	}
	if s.dev, err = matchers.ReadFrom(s.sysfs, s.procfs, name); err != nil {
		return fmt.Errorf("source %s: %w", s.path, err)
	}
	if err := checkUnwritten(s.dev); err != nil {
		return err
	}
	f, direct, err := openReadOnly(s.path)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	ffi, err := f.Stat()
	if err == nil && stateOf(ffi).rdev != st.rdev {
		err = fmt.Errorf("%s changed between stat and open", s.path)
	}
	if err == nil {
		s.size, err = f.Seek(0, io.SeekEnd)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("source %s: %w", s.path, err)
	}
	s.f, s.r, s.block, s.state = f, f, true, st
	if direct {
		s.r = newDirectReader(f, s.size, s.dev.LogicalSectorSize)
	}
	return nil
}

// checkUnwritten refuses a device that something may write while it is
// read: a filesystem on it (on a partition, or on a loop device stacked
// on it) mounted read-write, swap, or a holder (device mapper, md RAID,
// LVM), whose own users flashpipe cannot see. A filesystem mounted
// read-only is fine.
func checkUnwritten(d *matchers.Device) error {
	refuse := func(format string, a ...any) error {
		return &RefusedError{Device: d.Name, Reason: fmt.Sprintf(format, a...)}
	}
	if len(d.Holders) > 0 {
		return refuse("it is in use by %s (device mapper, RAID or LVM), which may write to it; deactivate it first "+
			"(cryptsetup close NAME, vgchange -an VG, mdadm --stop /dev/mdN)", strings.Join(d.Holders, ", "))
	}
	for _, m := range d.Mounts {
		who := m.Device
		if m.Device != d.Name && !slices.Contains(d.Partitions, m.Device) {
			who = m.Device + ", a loop device stacked on " + d.Name + ","
		}
		switch {
		case m.FSType == "swap":
			return refuse("%s is in use as swap; swapoff %s first", m.Device, m.MountPoint)
		case !m.ReadOnly:
			return refuse("%s is mounted read-write at %s (%s): it may change while it is read, and the image would mix "+
				"before and after. Unmount it (umount %s) or remount it read-only (mount -o remount,ro %s), then capture again",
				who, m.MountPoint, m.FSType, m.MountPoint, m.MountPoint)
		}
	}
	return nil
}

// RefusedError says that capture will not read a device, and why.
type RefusedError struct {
	Device string // kernel name, "sdb"
	Reason string // a sentence for the operator
}

// Error names the device and the reason.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("refusing to capture %s: %s", e.Device, e.Reason)
}

// unchanged checks, after the copy, that nothing changed the source while
// it was read: an image file's identity (size, mtime, ctime), or a block
// device's use (a read-write mount that came during the copy).
func (s *source) unchanged() error {
	if !s.block {
		fi, err := s.f.Stat()
		pfi, perr := os.Stat(s.path)
		if err != nil || perr != nil || stateOf(fi) != s.state || !os.SameFile(fi, pfi) {
			return fmt.Errorf("source %s changed while it was read (it was written, touched or replaced): "+
				"the image would mix before and after, so it is not kept", s.path)
		}
		return nil
	}
	d, err := matchers.ReadFrom(s.sysfs, s.procfs, s.dev.Name)
	if err == nil {
		err = checkUnwritten(d)
	}
	if err != nil {
		return fmt.Errorf("after reading %s: %w; the image is not kept", s.path, err)
	}
	return nil
}

// checkOutput refuses outputs that would overwrite the source, or a file
// without force, or that lie on the source device itself; and a block map
// that bmaptool would not find because another one comes first.
func (s *source) checkOutput(out, bmapPath string, force bool) error {
	sfi, err := s.f.Stat()
	if err != nil {
		return err
	}
	paths := []string{out, out + ".part"}
	if bmapPath != "" {
		paths = append(paths, bmapPath, bmapPath+".part")
	}
	for i, p := range paths {
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return fmt.Errorf("output: %w", err)
		case os.SameFile(fi, sfi):
			return fmt.Errorf("output %s is the source itself", p)
		case !fi.Mode().IsRegular():
			return fmt.Errorf("output %s exists and is a %s, not a regular file", p, fsimage.KindOf(fi.Mode()))
		case i%2 == 0 && !force:
			return fmt.Errorf("output %s exists; --force replaces it", p)
		}
	}
	if bmapPath != "" {
		if _, err := os.Lstat(out + ".bmap"); err == nil {
			return fmt.Errorf("%s exists: bmaptool and bmap = \"auto\" would take it for the image's block map before %s; remove it, or name the output otherwise", out+".bmap", bmapPath)
		}
	}
	return s.checkNotOnSource(out)
}

// checkNotOnSource refuses an output whose directory lies on the source
// device (one of its partitions, or a loop device stacked on it).
func (s *source) checkNotOnSource(out string) error {
	if !s.block {
		return nil
	}
	dir, err := os.Stat(filepath.Dir(out))
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	name, err := matchers.NameOf(s.sysfs, stateOf(dir).dev)
	if err != nil {
		return nil // not on a block device (tmpfs, NFS ...): not on the source
	}
	if s.dev.Includes(name) {
		return fmt.Errorf("output %s is on %s, which is the source %s: write the image to another disk", out, name, s.path)
	}
	return nil
}
