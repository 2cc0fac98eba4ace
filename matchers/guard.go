package matchers

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// Refusal is the error the safety checks return: the station must not write
// to Device, for Reason (a sentence for the operator). Kind says which
// check refused it, for counting.
type Refusal struct {
	Device string      // kernel name, "sdb"
	Reason string      // "sdb1 is mounted at /boot (vfat)"
	Kind   RefusalKind // RefusedMounted
}

// RefusalKind names the check that refused a disk: a small, fixed set, so
// that refusals can be counted by kind (flashpipe_guard_refusals_total's
// reason label) where Reason, which names devices and paths, cannot.
type RefusalKind int

// The kinds of refusal, one per check of Guard.Check and Recheck.
const (
	invalidRefusal     RefusalKind = iota
	RefusedPartition               // a partition, not a whole disk
	RefusedBus                     // on a bus the station may not write to
	RefusedBusUnknown              // its bus could not be told
	RefusedLoopOnBlock             // a loop device backed by a block device
	RefusedNoMedium                // no capacity: a card reader without a card
	RefusedReadOnly                // read-only (write-protect switch)
	RefusedHolders                 // held by device mapper, md RAID or LVM
	RefusedMounted                 // something on it is mounted
	RefusedSwap                    // something on it is in use as swap
	RefusedLoop                    // a loop device reads it
	RefusedVanished                // gone before the first write
	RefusedChanged                 // another disk (or medium) before the first write
	refusalKindEnd
)

var refusalNames = [...]string{
	RefusedPartition: "partition", RefusedBus: "bus", RefusedBusUnknown: "bus_unknown",
	RefusedLoopOnBlock: "loop_on_block_device", RefusedNoMedium: "no_medium", RefusedReadOnly: "read_only",
	RefusedHolders: "holders", RefusedMounted: "mounted", RefusedSwap: "swap", RefusedLoop: "loop_device",
	RefusedVanished: "vanished", RefusedChanged: "changed",
}

// RefusalKinds returns every kind of refusal, in order.
func RefusalKinds() []RefusalKind {
	var ks []RefusalKind
	for k := invalidRefusal + 1; k < refusalKindEnd; k++ {
		ks = append(ks, k)
	}
	return ks
}

// String returns the kind's name, a word such as "mounted" or "read_only".
func (k RefusalKind) String() string {
	if k <= invalidRefusal || k >= refusalKindEnd {
		return fmt.Sprintf("RefusalKind(%d)", int(k))
	}
	return refusalNames[k]
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("refusing to write to %s: %s", r.Device, r.Reason)
}

// Guard holds the station's safety policy. The zero value allows USB only.
type Guard struct {
	// AllowedBuses lists the buses (see WritableBuses) the station may write
	// to; nil means ["usb"]. "mmc" (built-in SD slots) and "loop" (tests) are allowed only
	// when listed.
	AllowedBuses []string
}

// WritableBuses returns the buses a station may be allowed to write to:
// USB sticks, SD and MMC card slots ("mmc") and loop devices ("loop", for
// tests and benchmarks). Disks on any other bus (ata, nvme, virtio, scsi,
// virtual: the machine's own) are never written. This is the one list the
// config checks (station.allow_buses, match.bus) and --allow-bus use.
func WritableBuses() []string { return []string{"usb", "mmc", "loop"} }

// DefaultBuses returns the buses a station writes to unless told
// otherwise, and a zero Guard allows: USB only.
func DefaultBuses() []string { return []string{"usb"} }

func (g Guard) buses() []string {
	if g.AllowedBuses == nil {
		return DefaultBuses()
	}
	return g.AllowedBuses
}

// AllowsBus reports whether bus is one the guard lets the station write to.
func (g Guard) AllowsBus(bus string) bool { return slices.Contains(g.buses(), bus) }

// Check returns a *Refusal when d must not be written to, or nil. It
// refuses partitions, disks on buses not allowed, loop devices whose
// backing file is a block device, empty or read-only disks, disks with
// holders (device mapper, md RAID, LVM), disks with anything mounted or
// swapped on them, and disks with a loop device stacked on them (see
// [Loop]; what is mounted from such a loop device is named first). d must
// come from [Read] or [ReadFrom] with the real mountinfo and swaps.
func (g Guard) Check(d *Device) error {
	refuse := func(kind RefusalKind, format string, args ...any) error {
		return &Refusal{Device: d.Name, Reason: fmt.Sprintf(format, args...), Kind: kind}
	}
	switch {
	case !d.WholeDisk:
		return refuse(RefusedPartition, "%s is a partition, not a whole disk", d.Name)
	case d.Bus == "":
		return refuse(RefusedBusUnknown, "its bus is unknown (sysfs path %s); allowed buses: %s", d.SysPath, strings.Join(g.buses(), ", "))
	case !slices.Contains(g.buses(), d.Bus):
		return refuse(RefusedBus, "it is on the %s bus; allowed buses: %s", d.Bus, strings.Join(g.buses(), ", "))
	case d.LoopOn != "":
		return refuse(RefusedLoopOnBlock, "it is a loop device on the block device %s: writing it would write %s", d.LoopOn, d.LoopOn)
	case d.Size <= 0:
		return refuse(RefusedNoMedium, "it reports no capacity (no medium in the reader?)")
	case d.ReadOnly:
		return refuse(RefusedReadOnly, "it is read-only (write-protect switch?)")
	case len(d.Holders) > 0:
		return refuse(RefusedHolders, "it is in use by %s (device mapper, RAID or LVM)", strings.Join(d.Holders, ", "))
	}
	for _, m := range d.Mounts {
		via := d.through(m.Device)
		if via != "" {
			via = ", and " + m.Device + " is " + via
		}
		if m.FSType == "swap" {
			return refuse(RefusedSwap, "%s is in use as swap%s", m.Device, via)
		}
		return refuse(RefusedMounted, "%s is mounted at %s (%s)%s", m.Device, m.MountPoint, m.FSType, via)
	}
	if len(d.Loops) > 0 {
		l := d.Loops[0].Name
		return refuse(RefusedLoop, "it is in use by %s, %s", l, d.through(l))
	}
	return nil
}

// Baseline records the disks present when the station started, so that only
// disks inserted later are written to.
type Baseline struct {
	present map[string]uint64 // name → diskseq
}

// NewBaseline records the (name, diskseq) of every device in devs.
func NewBaseline(devs []*Device) *Baseline {
	b := &Baseline{present: make(map[string]uint64, len(devs))}
	for _, d := range devs {
		b.present[d.Name] = d.DiskSeq
	}
	return b
}

// Present reports whether d is one of the disks recorded at start: same
// name and same diskseq. A disk re-plugged under the same name has a new
// diskseq and is not present. Without diskseq (Linux < 5.15, or 0 on either
// side) the name alone decides, which errs on the side of not writing.
func (b *Baseline) Present(d *Device) bool {
	seq, ok := b.present[d.Name]
	if !ok {
		return false
	}
	return seq == 0 || d.DiskSeq == 0 || seq == d.DiskSeq
}

// Recheck re-reads want.Name from sysfs and returns a *Refusal if the disk
// vanished or is not the same insertion any more (diskseq, dev, serial or
// size differ). The station calls it right before the first write.
func Recheck(sysfs fs.FS, want *Device) error {
	refuse := func(format string, args ...any) error {
		return &Refusal{Device: want.Name, Reason: fmt.Sprintf(format, args...), Kind: RefusedChanged}
	}
	got, err := Read(sysfs, nil, nil, want.Name)
	if errors.Is(err, fs.ErrNotExist) {
		return &Refusal{Device: want.Name, Reason: "it vanished before the first write", Kind: RefusedVanished}
	}
	if err != nil {
		return fmt.Errorf("recheck %s: %w", want.Name, err)
	}
	switch {
	case got.DiskSeq != want.DiskSeq:
		return refuse("it changed before the first write: diskseq %d, was %d (another disk took its name)", got.DiskSeq, want.DiskSeq)
	case got.Dev != want.Dev:
		return refuse("it changed before the first write: device number %s, was %s", got.Dev, want.Dev)
	case got.Serial != want.Serial:
		return refuse("it changed before the first write: serial %q, was %q", got.Serial, want.Serial)
	case got.Size != want.Size:
		return refuse("it changed before the first write: size %s, was %s", FormatSize(got.Size), FormatSize(want.Size))
	}
	return nil
}
