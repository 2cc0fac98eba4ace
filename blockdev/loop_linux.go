//go:build linux

package blockdev

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// AttachLoop attaches a read-only loop device over size bytes of backing
// starting at offset, and returns its path and a function that detaches
// it. devDir is where device nodes live ("/dev"). It needs no partition
// support in the kernel, which is why verification mounts a written
// partition through it: some kernels (this project's CI among them) parse
// no MBR or GPT at all.
func AttachLoop(devDir, backing string, offset, size int64) (string, func() error, error) {
	ctl, err := os.OpenFile(filepath.Join(devDir, "loop-control"), os.O_RDWR, 0)
	if err != nil {
		return "", nil, err
	}
	defer ctl.Close()
	src, err := os.Open(backing)
	if err != nil {
		return "", nil, err
	}
	defer src.Close()
	for attempt := 0; attempt < 8; attempt++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return "", nil, opError("find a free loop device via", ctl.Name(), err)
		}
		path := filepath.Join(devDir, fmt.Sprintf("loop%d", n))
		loop, err := openLoopNode(path)
		if err != nil {
			return "", nil, err
		}
		cfg := unix.LoopConfig{Fd: uint32(src.Fd())}
		cfg.Info.Offset = uint64(offset)
		cfg.Info.Sizelimit = uint64(size)
		cfg.Info.Flags = unix.LO_FLAGS_READ_ONLY | unix.LO_FLAGS_AUTOCLEAR
		err = unix.IoctlLoopConfigure(int(loop.Fd()), &cfg)
		if err == unix.EBUSY {
			loop.Close() // another program took it first; ask again
			continue
		}
		if err != nil {
			loop.Close()
			return "", nil, opError("configure", path, err)
		}
		// With AUTOCLEAR the kernel detaches the device when its last
		// user closes it: the mount, then this handle.
		return path, loop.Close, nil
	}
	return "", nil, fmt.Errorf("attach a loop device over %s: every free loop device was taken meanwhile", backing)
}

// openLoopNode opens a loop device node, waiting briefly for devtmpfs to
// create it after LOOP_CTL_GET_FREE added the device.
func openLoopNode(path string) (*os.File, error) {
	var err error
	for i := 0; i < 50; i++ {
		var f *os.File
		if f, err = os.OpenFile(path, os.O_RDONLY, 0); err == nil {
			return f, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}
