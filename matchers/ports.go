package matchers

import (
	"cmp"
	"errors"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Port is one downstream port of a USB hub (a root hub's too), as sysfs
// lists it whether or not anything is plugged in.
type Port struct {
	Path    string // port path, as Device.Port gives it for a stick there: "1-1.4"
	Product string // product string of the USB device plugged in, "" when empty
	InUse   bool   // a USB device is plugged in
}

// portDir is the name the kernel gives a hub port's sysfs device,
// "<hub>-port<N>": "usb1-port2" on a root hub, "1-1-port4" on the hub at 1-1.
var portDir = regexp.MustCompile(`^(?:usb([0-9]+)|([0-9]+-[0-9.]+))-port([0-9]+)$`)

// HubPorts lists every downstream port of every USB hub under the sysfs
// root, sorted by port path ("1-1.2" before "1-1.10"). The port paths are
// those the station reports for a stick in that port ([Device.Port]), so
// they are what `match { port = ... }` and `station { ports = ... }` take.
// Without USB (no bus/usb/devices) the list is empty.
func HubPorts(sysfs fs.FS) ([]Port, error) {
	const devices = "bus/usb/devices"
	ents, err := fs.ReadDir(sysfs, devices)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ports []Port
	for _, e := range ents {
		if !strings.Contains(e.Name(), ":") {
			continue // a device, not an interface: hub ports hang off the hub's interface
		}
		kids, err := fs.ReadDir(sysfs, path.Join(devices, e.Name()))
		if err != nil {
			continue // the hub went away meanwhile
		}
		for _, k := range kids {
			m := portDir.FindStringSubmatch(k.Name())
			if m == nil {
				continue
			}
			p := Port{Path: m[2] + "." + m[3]}
			if m[1] != "" {
				p.Path = m[1] + "-" + m[3] // a root hub's port N is devpath N
			}
			dev := path.Join(devices, p.Path)
			if _, err := fs.Stat(sysfs, dev); err == nil {
				p.InUse = true
				p.Product, _, _ = attr(sysfs, dev, "product")
			}
			ports = append(ports, p)
		}
	}
	slices.SortFunc(ports, func(a, b Port) int { return comparePortPaths(a.Path, b.Path) })
	return slices.CompactFunc(ports, func(a, b Port) bool { return a.Path == b.Path }), nil
}

// MatchPorts returns the ports whose path matches any of the patterns
// (globs, as the match block's port takes them).
func MatchPorts(ports []Port, patterns []string) []Port {
	var out []Port
	for _, p := range ports {
		if anyGlob(patterns, p.Path) {
			out = append(out, p)
		}
	}
	return out
}

// comparePortPaths orders port paths by their numbers: bus, then each hop.
func comparePortPaths(a, b string) int {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '.' })
	}
	as, bs := split(a), split(b)
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, errx := strconv.Atoi(as[i])
		y, erry := strconv.Atoi(bs[i])
		if errx != nil || erry != nil {
			if c := strings.Compare(as[i], bs[i]); c != 0 {
				return c
			}
			continue
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(as), len(bs))
}
