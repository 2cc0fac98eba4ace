// Package uevent receives kernel uevents (device hotplug notifications) from
// a NETLINK_KOBJECT_UEVENT socket, without udevd.
//
// # What comes from github.com/pilebones/go-udev v0.9.1, and what is owned here
//
// Used from go-udev (package netlink), because it is sound:
//   - the list of kernel uevent actions (KObjAction, ParseKObjAction), which
//     Parse uses to reject datagrams whose header is not "action@devpath";
//   - its rule matchers: Event.UEvent converts to netlink.UEvent and
//     Event.Matches evaluates a netlink.Matcher (RuleDefinition(s), regexps
//     on action and environment) for callers that want to filter that way.
//
// go-udev's netlink package builds on Linux only, so these two methods and
// the use of its action list live in udev_linux.go; udev_other.go carries
// the same eight actions so that Parse works everywhere.
//
// Owned here, because go-udev's version is unsound for an unattended station
// (shared/RESEARCH.md lists the defects; each is tested here):
//   - The socket. go-udev's Monitor blocks in recvfrom on a blocking socket;
//     after quit and Close its goroutine stays blocked and may later read
//     from whatever file reuses the descriptor number. Here the socket is
//     non-blocking (SOCK_NONBLOCK|SOCK_CLOEXEC, x/sys/unix) and the reader
//     goroutine polls it together with an eventfd. Close writes the eventfd,
//     waits for the goroutine to return and only then closes the socket, so
//     no goroutine outlives Close (a goleak test checks it) and no read can
//     hit a reused descriptor.
//   - Overflow. go-udev sets no receive buffer and ends its monitor on the
//     first read error. A hub full of sticks produces bursts of uevents; here
//     the buffer is 128 MiB like udevd's (SO_RCVBUFFORCE, falling back to
//     SO_RCVBUF without CAP_NET_ADMIN), and ENOBUFS (the kernel dropped
//     uevents) is not fatal: it is counted (Listener.Overflows) and
//     delivered as an Event with Action "resync", on which the station
//     rescans sysfs. Losing events is then harmless, because sysfs, not
//     the event stream, is the truth.
//   - Parsing. go-udev splits "KEY=VALUE" on every '=', so a value
//     containing '=' makes the whole event fail. Parse splits on the first
//     '=' only, checks the header against ACTION and DEVPATH, parses SEQNUM
//     and refuses libudev-format datagrams (ErrLibudev) instead of decoding
//     udevd's private header with unsafe pointer casts.
//   - Trust. go-udev accepts any datagram. A process with CAP_NET_ADMIN can
//     send a forged uevent straight to a listener's netlink port, while the
//     kernel's own carry sender port 0 and credentials pid 0, uid 0. So, as
//     systemd-udevd does, the listener asks for
//     SCM_CREDENTIALS (SO_PASSCRED) and drops every datagram whose netlink
//     sender port is not 0 (the kernel) or whose credentials are not pid 0,
//     uid 0. Dropped datagrams are counted (Listener.Dropped).
//   - The crawler. go-udev's crawler reports kernel properties only and
//     /sys/... paths where events carry /devices/...; the station uses
//     package matchers to read sysfs instead.
//
// Only the kernel's multicast group (1) is joined, so udevd's re-broadcasts
// (group 2) are never received; the station needs nothing udevd adds,
// because matchers reads identity from sysfs itself.
//
// On systems other than Linux, Listen returns an error saying so.
package uevent
