// Package matchers identifies block devices from sysfs, matches them against
// profile rules, and refuses the ones it is not safe to write to.
//
// Three parts, used by the station in this order:
//
//  1. Identity: [Read] builds a [Device] from an injected sysfs tree (an
//     [io/fs.FS] rooted at what is /sys on a live system) plus the text of
//     /proc/self/mountinfo and /proc/swaps. Sysfs symbolic links are resolved
//     inside the fs.FS, so the FS must implement [io/fs.ReadLinkFS]
//     ([os.DirFS] and [testing/fstest.MapFS] do). The bus, the USB device and
//     its port are found by walking up the resolved device path. Library code
//     never names /sys or /proc; [OSRoots] is the one place that does.
//  2. Matching: a [Rule] (built by the config compiler from a profile's match
//     block) says whether a Device fits and, if not, which attribute did not.
//  3. Safety: a [Guard] refuses anything that is not a whole, writable,
//     non-empty disk on an allowed bus with no holders, stacked loop
//     devices, mounts or swap.
//     [Baseline] remembers the disks present at start (the station writes
//     only to disks inserted later) and [Recheck] re-reads a disk right before
//     the first write to make sure it is still the same insertion.
//
// Fixtures in testdata/sysfs/*.txtar model real sysfs layouts; package
// matchers/sysfstest loads them (see its doc for the symlink notation).
//
// A mount belongs to the disk when its mountinfo major:minor is the disk's
// or a partition's, or when its source is /dev/<disk or partition> (btrfs
// shows an anonymous 0:N device number but the real source). Swap is matched
// by the device name in /proc/swaps; a swap file is covered by its
// filesystem's mount. A disk under device mapper, md or LVM is refused for
// its holders, whatever is mounted on top. A loop device whose backing file
// is the disk or a partition (or another such loop device) is a user of the
// disk too (see [Loop]): the disk is refused for it, and what is mounted or
// swapped from it is named in the reason.
package matchers
