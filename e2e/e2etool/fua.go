package main

import (
	"fmt"
	"io"
)

// fuaCDB is WRITE(10) of count 512-byte blocks at lba with FUA (force
// unit access) set.
func fuaCDB(lba uint32, count uint16) []byte {
	return []byte{0x2a, 0x08, byte(lba >> 24), byte(lba >> 16), byte(lba >> 8), byte(lba), 0, byte(count >> 8), byte(count), 0}
}

// fua runs "fua DEV": it writes DEV's first 512-byte block back to it
// unchanged with WRITE(10) FUA through SG_IO. The USB mass-storage gadget
// then writes its backing file with O_SYNC from that command on (until the
// file is closed), so a write the medium below refuses fails the WRITE
// command itself, with the block in the sense data, instead of failing
// later in the guest's page cache where the host never hears of it.
func fua(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: e2etool fua DEV")
		return 2
	}
	if err := writeFUA(args[0]); err != nil {
		fmt.Fprintln(stderr, "e2etool: fua:", err)
		return 1
	}
	return 0
}
