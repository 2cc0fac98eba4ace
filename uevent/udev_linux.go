package uevent

import "github.com/pilebones/go-udev/netlink"

// validAction reports whether a is a kernel uevent action, by go-udev's list.
func validAction(a string) bool {
	_, err := netlink.ParseKObjAction(a)
	return err == nil
}
