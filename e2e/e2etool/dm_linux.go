package main

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dmCall issues one device-mapper command on /dev/mapper/control and
// returns the buffer the kernel filled in.
func dmCall(cmd uint, name string, flags uint32, targets []dmTarget) ([]byte, error) {
	buf, err := dmIoctl(name, flags, targets)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile("/dev/mapper/control", os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// _IOWR(0xfd, cmd, struct dm_ioctl)
	req := uintptr(3<<30 | dmHeaderSize<<16 | 0xfd<<8 | cmd)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), req, uintptr(unsafe.Pointer(&buf[0]))); e != 0 {
		return nil, fmt.Errorf("ioctl on /dev/mapper/control: %w", e)
	}
	return buf, nil
}
