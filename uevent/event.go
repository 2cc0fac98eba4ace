package uevent

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ActionResync is the Action of the Event a Listener delivers when the
// kernel dropped uevents (ENOBUFS): the receiver must rescan sysfs.
const ActionResync = "resync"

// Event is one kernel uevent.
type Event struct {
	Action    string            // "add", "remove", "change", "move", "online", "offline", "bind", "unbind"; or ActionResync
	DevPath   string            // "/devices/virtual/block/loop0" (relative to the sysfs root, with a leading /)
	Subsystem string            // SUBSYSTEM, "block"
	DevType   string            // DEVTYPE, "disk" or "partition"
	DevName   string            // DEVNAME, "loop0" (relative to /dev)
	Seq       uint64            // SEQNUM
	Env       map[string]string // every KEY=VALUE of the uevent, including the ones above
}

// ErrLibudev is returned by Parse for a datagram in libudev's format
// (udevd's re-broadcast, which starts with "libudev\0"): not a kernel uevent.
var ErrLibudev = errors.New("libudev-format datagram, not a kernel uevent")

// Parse decodes a kernel uevent datagram:
//
//	"add@/devices/virtual/block/loop0\0ACTION=add\0DEVPATH=/devices/...\0SUBSYSTEM=block\0...SEQNUM=4242\0"
//
// A value may contain '='; only the first '=' separates key and value. The
// action must be one the kernel sends (on Linux, go-udev's KObjAction list), the
// header's action and devpath must agree with ACTION and DEVPATH when
// those are present, and SEQNUM, when present, must be a number.
func Parse(b []byte) (*Event, error) {
	if bytes.HasPrefix(b, []byte("libudev\x00")) {
		return nil, ErrLibudev
	}
	fields := strings.Split(string(b), "\x00")
	action, devpath, ok := strings.Cut(fields[0], "@")
	if !ok {
		return nil, fmt.Errorf("uevent header %.40q: want action@devpath", fields[0])
	}
	if !validAction(action) {
		return nil, fmt.Errorf("uevent action %.40q: not a kernel uevent action", action)
	}
	if !strings.HasPrefix(devpath, "/") {
		return nil, fmt.Errorf("uevent devpath %.60q: want an absolute path", devpath)
	}
	e := &Event{Action: action, DevPath: devpath, Env: make(map[string]string, len(fields))}
	for _, f := range fields[1:] {
		if f == "" {
			continue // the terminating NUL
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("uevent %s: field %.40q: want KEY=VALUE", devpath, f)
		}
		e.Env[k] = v
	}
	if err := e.fill(); err != nil {
		return nil, err
	}
	return e, nil
}

// fill checks the environment against the header and copies the common keys.
func (e *Event) fill() error {
	if a, ok := e.Env["ACTION"]; ok && a != e.Action {
		return fmt.Errorf("uevent %s: ACTION=%s disagrees with the header's %s", e.DevPath, a, e.Action)
	}
	if p, ok := e.Env["DEVPATH"]; ok && p != e.DevPath {
		return fmt.Errorf("uevent %s: DEVPATH=%s disagrees with the header", e.DevPath, p)
	}
	e.Subsystem, e.DevType, e.DevName = e.Env["SUBSYSTEM"], e.Env["DEVTYPE"], e.Env["DEVNAME"]
	if s, ok := e.Env["SEQNUM"]; ok {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("uevent %s: SEQNUM=%.20q is not a number", e.DevPath, s)
		}
		e.Seq = n
	}
	return nil
}
