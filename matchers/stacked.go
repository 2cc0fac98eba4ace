package matchers

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// A Loop is a loop device stacked on a disk: its backing file is the disk,
// one of the disk's partitions, or another loop device stacked on the disk
// (or one of that one's partitions). Reading the loop device reads the
// disk, so whatever uses the loop device uses the disk. The kernel lists
// loop devices under no holders directory and the station's exclusive open
// does not see them: a loop device does not claim its backing device.
type Loop struct {
	Name       string   // kernel name, "loop1"
	On         string   // kernel name of the device its backing file is, "sdb1" or "loop0"
	Partitions []string // the loop device's own partitions ("loop1p1"), sorted
}

// boundLoop is one attached loop device of the system.
type boundLoop struct {
	name, on string // on: the block device its backing file is, "" for a regular file
	members  []member
}

// readLoops returns every attached loop device (a loop device whose
// loop/backing_file exists) with the block device its backing file is.
func readLoops(sysfs, procfs fs.FS) []boundLoop {
	names, err := List(sysfs)
	if err != nil {
		return nil
	}
	var out []boundLoop
	for _, n := range names {
		dir, err := findBlock(sysfs, n)
		if err != nil {
			continue
		}
		file, ok, err := attr(sysfs, dir, "loop/backing_file")
		if err != nil || !ok {
			continue
		}
		dev, _, _ := attr(sysfs, dir, "dev")
		out = append(out, boundLoop{name: n, on: backingDevice(sysfs, procfs, file), members: members(sysfs, n, dir, dev)})
	}
	return out
}

// backingDevice returns the kernel name of the block device that the loop
// backing file file is, or "" when it is a regular file or cannot be told.
// With procfs (the live system) the file is looked up through
// self/root and its device number found under sysfs dev/block, which also
// finds a device node outside /dev; without it, or when that fails (a file
// since deleted or renamed), a path /dev/<name> naming a block device in
// sysfs is that device.
func backingDevice(sysfs, procfs fs.FS, file string) string {
	if procfs != nil {
		if fi, err := fs.Stat(procfs, path.Join("self/root", file)); err == nil {
			if fi.Mode()&fs.ModeDevice == 0 || fi.Mode()&fs.ModeCharDevice != 0 {
				return "" // a regular file (or a character device)
			}
			if dev, ok := rdev(fi); ok {
				if p, err := resolve(sysfs, "dev/block/"+dev); err == nil {
					return path.Base(p)
				}
			}
		}
	}
	name, ok := strings.CutPrefix(file, "/dev/")
	if !ok || name == "" || strings.ContainsAny(name, "/ ") {
		return ""
	}
	if _, err := findBlock(sysfs, name); err != nil {
		return ""
	}
	return name
}

// stackOn finds the loop devices stacked on the devices in ms, directly or
// through each other, and returns them with their members (each loop device
// and its partitions), which are used as the disk is.
func stackOn(loops []boundLoop, ms []member) ([]Loop, []member) {
	in := map[string]bool{}
	for _, m := range ms {
		in[m.name] = true
	}
	var stacked []Loop
	var more []member
	for grew := true; grew; {
		grew = false
		for _, l := range loops {
			if in[l.name] || l.on == "" || !in[l.on] {
				continue
			}
			grew = true
			var parts []string
			for _, m := range l.members {
				in[m.name] = true
				if m.name != l.name {
					parts = append(parts, m.name)
				}
			}
			stacked = append(stacked, Loop{Name: l.name, On: l.on, Partitions: parts})
			more = append(more, l.members...)
		}
	}
	return stacked, more
}

// through describes how name reaches the disk when it is a loop device
// stacked on it or one of that one's partitions: "a loop device on loop1,
// a loop device on sdb1". It is "" for the disk and its partitions.
func (d *Device) through(name string) string {
	var b strings.Builder
	for hops := 0; hops <= len(d.Loops); hops++ {
		l, part := d.loopOf(name)
		if l == nil {
			break
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		if part {
			fmt.Fprintf(&b, "a partition of %s, ", l.Name)
		}
		fmt.Fprintf(&b, "a loop device on %s", l.On)
		name = l.On
	}
	return b.String()
}

// loopOf returns the stacked loop device name is, or whose partition it is
// (part true).
func (d *Device) loopOf(name string) (l *Loop, part bool) {
	for i := range d.Loops {
		l := &d.Loops[i]
		if l.Name == name {
			return l, false
		}
		for _, p := range l.Partitions {
			if p == name {
				return l, true
			}
		}
	}
	return nil, false
}

// Includes reports whether the block device called name holds d's data:
// it is d, one of d's partitions, or a loop device stacked on d (or a
// partition of one; see [Loop]).
func (d *Device) Includes(name string) bool {
	if name == d.Name || slices.Contains(d.Partitions, name) {
		return true
	}
	l, _ := d.loopOf(name)
	return l != nil
}
