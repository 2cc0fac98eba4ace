package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The device-mapper ioctl interface (linux/dm-ioctl.h, version 4): every
// command passes a struct dm_ioctl, optionally followed by data; a table
// load's data is one struct dm_target_spec per target, each followed by
// its NUL-terminated parameter string.
const (
	dmHeaderSize = 312 // sizeof(struct dm_ioctl)
	dmSpecSize   = 40  // sizeof(struct dm_target_spec)
	dmNameLen    = 128 // DM_NAME_LEN
	dmTypeLen    = 16  // DM_MAX_TYPE_NAME
	dmBufSize    = 16 << 10

	dmDevCreateCmd  = 3
	dmDevRemoveCmd  = 4
	dmDevSuspendCmd = 6
	dmTableLoadCmd  = 9

	dmSuspendFlag = 1 << 1
	dmNoflushFlag = 1 << 11
)

// dmTarget is one line of a table: "START LENGTH TYPE PARAMS...", in
// 512-byte sectors, as dmsetup takes it.
type dmTarget struct {
	start, length uint64
	typ, params   string
}

// parseTable reads targets separated by newlines or ";".
func parseTable(s string) ([]dmTarget, error) {
	var ts []dmTarget
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ';' }) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 {
			return nil, fmt.Errorf("table line %q: want START LENGTH TYPE [PARAMS]", line)
		}
		start, err1 := strconv.ParseUint(f[0], 10, 64)
		length, err2 := strconv.ParseUint(f[1], 10, 64)
		if err1 != nil || err2 != nil || length == 0 {
			return nil, fmt.Errorf("table line %q: START and LENGTH are sector counts, LENGTH > 0", line)
		}
		if len(f[2]) >= dmTypeLen {
			return nil, fmt.Errorf("table line %q: target type too long", line)
		}
		if n := len(ts); n > 0 && ts[n-1].start+ts[n-1].length != start {
			return nil, fmt.Errorf("table line %q: starts at %d, the previous target ends at %d", line, start, ts[n-1].start+ts[n-1].length)
		}
		if len(ts) == 0 && start != 0 {
			return nil, fmt.Errorf("table line %q: the first target must start at 0", line)
		}
		ts = append(ts, dmTarget{start, length, f[2], strings.Join(f[3:], " ")})
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("empty table")
	}
	return ts, nil
}

// dmIoctl builds the buffer for one command: the header for device name
// with flags, then the targets (if any), in the machine's byte order.
func dmIoctl(name string, flags uint32, targets []dmTarget) ([]byte, error) {
	if len(name) == 0 || len(name) >= dmNameLen {
		return nil, fmt.Errorf("device name %q: want 1 to %d bytes", name, dmNameLen-1)
	}
	buf := make([]byte, dmBufSize)
	ne := binary.NativeEndian
	off := dmHeaderSize
	for i, t := range targets {
		size := (dmSpecSize + len(t.params) + 1 + 7) &^ 7
		if off+size > len(buf) {
			return nil, fmt.Errorf("table too long for %d bytes", len(buf))
		}
		s := buf[off:]
		ne.PutUint64(s[0:], t.start)
		ne.PutUint64(s[8:], t.length)
		// s[16:20] status: out only
		if i < len(targets)-1 {
			ne.PutUint32(s[20:], uint32(size)) // next: from this spec to the next
		}
		copy(s[24:24+dmTypeLen], t.typ)
		copy(s[dmSpecSize:], t.params)
		off += size
	}
	ne.PutUint32(buf[0:], 4) // version 4.0.0: any 4.x kernel takes it
	ne.PutUint32(buf[12:], uint32(len(buf)))
	ne.PutUint32(buf[16:], dmHeaderSize) // data_start
	ne.PutUint32(buf[20:], uint32(len(targets)))
	ne.PutUint32(buf[28:], flags)
	copy(buf[48:48+dmNameLen], name)
	return buf, nil
}

// dmDev reads the dev_t a command returned (huge_encode_dev) as major, minor.
func dmDev(buf []byte) (major, minor uint32) {
	d := binary.NativeEndian.Uint64(buf[40:])
	return uint32((d & 0xfff00) >> 8), uint32((d & 0xff) | ((d >> 12) & 0xfff00))
}

// dm runs "dm create|load|suspend|resume|remove NAME [TABLE]".
func dm(args []string, stdout, stderr io.Writer) int {
	usage := func() int {
		fmt.Fprintln(stderr, "usage: e2etool dm create NAME TABLE | load NAME TABLE | suspend NAME [noflush] | resume NAME | remove NAME")
		return 2
	}
	if len(args) < 2 {
		return usage()
	}
	var err error
	switch cmd, name := args[0], args[1]; {
	case (cmd == "create" || cmd == "load") && len(args) == 3:
		var ts []dmTarget
		if ts, err = parseTable(args[2]); err != nil {
			break
		}
		if cmd == "create" {
			var buf []byte
			if buf, err = dmCall(dmDevCreateCmd, name, 0, nil); err != nil {
				break
			}
			maj, mnr := dmDev(buf)
			if _, err = dmCall(dmTableLoadCmd, name, 0, ts); err == nil {
				_, err = dmCall(dmDevSuspendCmd, name, 0, nil)
			}
			if err != nil {
				_, _ = dmCall(dmDevRemoveCmd, name, 0, nil)
				break
			}
			fmt.Fprintf(stdout, "%d:%d\n", maj, mnr)
			break
		}
		_, err = dmCall(dmTableLoadCmd, name, 0, ts)
	case cmd == "suspend" && len(args) <= 3:
		flags := uint32(dmSuspendFlag)
		if len(args) == 3 {
			if args[2] != "noflush" {
				return usage()
			}
			flags |= dmNoflushFlag
		}
		_, err = dmCall(dmDevSuspendCmd, name, flags, nil)
	case cmd == "resume" && len(args) == 2:
		_, err = dmCall(dmDevSuspendCmd, name, 0, nil)
	case cmd == "remove" && len(args) == 2:
		_, err = dmCall(dmDevRemoveCmd, name, 0, nil)
	default:
		return usage()
	}
	if err != nil {
		fmt.Fprintf(stderr, "e2etool: dm %s %s: %v\n", args[0], args[1], err)
		return 1
	}
	return 0
}
