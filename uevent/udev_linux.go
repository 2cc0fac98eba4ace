package uevent

import "github.com/pilebones/go-udev/netlink"

// validAction reports whether a is a kernel uevent action, by go-udev's list.
func validAction(a string) bool {
	_, err := netlink.ParseKObjAction(a)
	return err == nil
}

// UEvent converts e to go-udev's type, so that its rule matchers
// (netlink.RuleDefinition, netlink.RuleDefinitions) can filter events.
func (e *Event) UEvent() netlink.UEvent {
	return netlink.UEvent{Action: netlink.KObjAction(e.Action), KObj: e.DevPath, Env: e.Env}
}

// Matches reports whether go-udev matcher m accepts e. A resync event
// matches every matcher: it stands for events that were lost.
func (e *Event) Matches(m netlink.Matcher) bool {
	return e.Action == ActionResync || m.Evaluate(e.UEvent())
}
