//go:build !linux

package uevent

// validAction reports whether a is a kernel uevent action
// (lib/kobject_uevent.c). go-udev's netlink package, whose list Linux
// builds use, does not build here.
func validAction(a string) bool {
	switch a {
	case "add", "remove", "change", "move", "online", "offline", "bind", "unbind":
		return true
	}
	return false
}
