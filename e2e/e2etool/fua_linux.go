package main

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sgIOHdr is struct sg_io_hdr (scsi/sg.h) on 64-bit Linux.
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

const (
	sgIO          = 0x2285
	sgDxferToDev  = -2
	sgDriverSense = 0x08
)

func writeFUA(dev string) error {
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	block := make([]byte, 512)
	if _, err := f.ReadAt(block, 0); err != nil {
		return err
	}
	cdb, sense := fuaCDB(0, 1), make([]byte, 32)
	h := sgIOHdr{
		InterfaceID: 'S', DxferDirection: sgDxferToDev,
		CmdLen: uint8(len(cdb)), MxSbLen: uint8(len(sense)),
		DxferLen: uint32(len(block)), Dxferp: unsafe.Pointer(&block[0]),
		Cmdp: unsafe.Pointer(&cdb[0]), Sbp: unsafe.Pointer(&sense[0]),
		Timeout: 30000,
	}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), sgIO, uintptr(unsafe.Pointer(&h))); e != 0 {
		return fmt.Errorf("SG_IO on %s: %w", dev, e)
	}
	if h.Status != 0 || h.HostStatus != 0 || h.DriverStatus&^sgDriverSense != 0 {
		return fmt.Errorf("WRITE(10) FUA on %s: status %#x host %#x driver %#x sense %x", dev, h.Status, h.HostStatus, h.DriverStatus, sense[:h.SbLenWr])
	}
	return nil
}
