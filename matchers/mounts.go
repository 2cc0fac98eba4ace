package matchers

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// member is the disk or one of its partitions: what holders, mounts and
// swap are looked up for.
type member struct {
	name, dir, dev string
}

// members returns the block device name (directory dir, number dev) and
// its partitions.
func members(sysfs fs.FS, name, dir, dev string) []member {
	ms := []member{{name, dir, dev}}
	for _, p := range partitions(sysfs, dir) {
		pdir := path.Join(dir, p)
		pdev, _, _ := attr(sysfs, pdir, "dev")
		ms = append(ms, member{p, pdir, pdev})
	}
	return ms
}

// readUse fills LoopOn, Loops, Holders and Mounts. The loop devices
// stacked on the disk count as the disk: their holders, mounts and swap are
// the disk's. procfs may be nil (see [backingDevice]).
func (d *Device) readUse(sysfs, procfs fs.FS, mountinfo, swaps io.Reader) error {
	ms := []member{{d.Name, d.SysPath, d.Dev}}
	if d.WholeDisk {
		ms = members(sysfs, d.Name, d.SysPath, d.Dev)
	}
	loops := readLoops(sysfs, procfs)
	for _, l := range loops {
		if l.name == d.Name {
			d.LoopOn = l.on
		}
	}
	var more []member
	d.Loops, more = stackOn(loops, ms)
	ms = append(ms, more...)
	seen := map[string]bool{}
	for _, m := range ms {
		ents, err := fs.ReadDir(sysfs, path.Join(m.dir, "holders"))
		if err != nil {
			continue // no holders directory: nothing holds it
		}
		for _, e := range ents {
			if !seen[e.Name()] {
				seen[e.Name()] = true
				d.Holders = append(d.Holders, e.Name())
			}
		}
	}
	sort.Strings(d.Holders)
	if mountinfo != nil {
		mounts, err := parseMountinfo(mountinfo, ms)
		if err != nil {
			return err
		}
		d.Mounts = append(d.Mounts, mounts...)
	}
	if swaps != nil {
		sw, err := parseSwaps(swaps, ms)
		if err != nil {
			return err
		}
		d.Mounts = append(d.Mounts, sw...)
	}
	return nil
}

// parseMountinfo returns the mounts whose major:minor, or whose /dev/ source,
// is one of ms. Format (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw
//
// The last field, the super options, says whether the filesystem is
// read-only (Mount.ReadOnly); the per-mount options (the sixth field) only
// say so of one mount point.
func parseMountinfo(r io.Reader, ms []member) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 7 || sep < 0 || sep+2 >= len(f) {
			return nil, fmt.Errorf("mountinfo line %d: malformed: %q", line, sc.Text())
		}
		fstype, source := unescape(f[sep+1]), unescape(f[sep+2])
		ro := sep+3 < len(f) && slices.Contains(strings.Split(f[sep+3], ","), "ro")
		for _, m := range ms {
			if f[2] == m.dev || source == "/dev/"+m.name {
				out = append(out, Mount{Device: m.name, MountPoint: unescape(f[4]), FSType: fstype, Source: source, ReadOnly: ro})
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return out, nil
}

// parseSwaps returns the swap areas on ms. Format:
//
//	Filename    Type        Size    Used    Priority
//	/dev/sdb2   partition   1048572 0       -2
func parseSwaps(r io.Reader, ms []member) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || (line == 1 && f[0] == "Filename") {
			continue
		}
		name := unescape(f[0])
		for _, m := range ms {
			if name == "/dev/"+m.name {
				out = append(out, Mount{Device: m.name, MountPoint: name, FSType: "swap", Source: name})
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read swaps: %w", err)
	}
	return out, nil
}

// unescape undoes the octal escapes (\040 for space) the kernel writes in
// mountinfo and swaps.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
