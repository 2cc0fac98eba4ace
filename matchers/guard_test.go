package matchers_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/flashpipe/flashpipe/matchers"
)

func TestGuardCheck(t *testing.T) {
	usbOnly := matchers.Guard{}
	permissive := matchers.Guard{AllowedBuses: []string{"usb", "mmc", "loop", "ata", "nvme", "virtual"}}
	tests := []struct {
		fixture, name string
		guard         matchers.Guard
		reason        string // "" = allowed
		kind          matchers.RefusalKind
	}{
		{"usb-stick-behind-hub", "sdb", usbOnly, "", 0},
		{"usb-stick-behind-hub", "sdb1", usbOnly, "sdb1 is a partition, not a whole disk", matchers.RefusedPartition},
		{"card-reader-multi-lun", "sdc", usbOnly, "", 0},
		{"card-reader-multi-lun", "sdd", usbOnly, "it reports no capacity (no medium in the reader?)", matchers.RefusedNoMedium},
		{"sata-disk", "sda", usbOnly, "it is on the ata bus; allowed buses: usb", matchers.RefusedBus},
		{"sata-disk", "sda", permissive, "", 0},
		{"nvme-disk", "nvme0n1", usbOnly, "it is on the nvme bus; allowed buses: usb", matchers.RefusedBus},
		{"loop-device", "loop0", usbOnly, "it is on the loop bus; allowed buses: usb", matchers.RefusedBus},
		{"loop-device", "loop0", matchers.Guard{AllowedBuses: []string{"usb", "loop"}}, "", 0},
		{"mmc-slot", "mmcblk1", usbOnly, "it is on the mmc bus; allowed buses: usb", matchers.RefusedBus},
		{"mmc-slot", "mmcblk1", matchers.Guard{AllowedBuses: []string{"usb", "mmc"}}, "", 0},
		{"usb-root-disk", "sda", permissive, "sda2 is mounted at / (ext4)", matchers.RefusedMounted},
		{"usb-stick-dm-holder", "sde", permissive, "it is in use by dm-0 (device mapper, RAID or LVM)", matchers.RefusedHolders},
		{"usb-stick-dm-holder", "dm-0", permissive, "dm-0 is mounted at /media/secret (ext4)", matchers.RefusedMounted},
		{"usb-stick-loop-mounted", "sdb", usbOnly, "loop1 is mounted at /mnt/peek (ext4), and loop1 is a loop device on sdb1", matchers.RefusedMounted},
		{"usb-stick-loop-mounted", "loop1", permissive, "it is a loop device on the block device sdb1: writing it would write sdb1", matchers.RefusedLoopOnBlock},
		{"usb-stick-loop-mounted", "loop0", permissive, "it is read-only (write-protect switch?)", matchers.RefusedReadOnly},
		{"usb-stick-loop-on-loop", "sdb", usbOnly,
			"loop2p1 is mounted at /mnt/inner (vfat), and loop2p1 is a partition of loop2, a loop device on loop0, a loop device on sdb", matchers.RefusedMounted},
		{"usb-stick-loop-on-loop", "loop2", permissive, "it is a loop device on the block device loop0: writing it would write loop0", matchers.RefusedLoopOnBlock},
		{"usb-stick-loop-on-loop", "loop3", permissive, "", 0},
	}
	for _, tt := range tests {
		d := read(t, load(t, tt.fixture), tt.name)
		err := tt.guard.Check(d)
		var r *matchers.Refusal
		switch {
		case tt.reason == "" && err != nil:
			t.Errorf("%v.Check(%s in %s) = %v, want nil", tt.guard, tt.name, tt.fixture, err)
		case tt.reason != "" && (!errors.As(err, &r) || r.Reason != tt.reason || r.Device != tt.name || r.Kind != tt.kind):
			t.Errorf("%v.Check(%s in %s) = %v (kind %v), want a refusal of %s: %s (kind %v)", tt.guard, tt.name, tt.fixture, err, kindOf(err), tt.name, tt.reason, tt.kind)
		}
	}
}

// TestGuardCheckStackedLoops: a loop device stacked on the stick is a user
// of it even when nothing is mounted from it, and the stack is followed
// through loop devices and their partitions.
func TestGuardCheckStackedLoops(t *testing.T) {
	fx := load(t, "usb-stick-loop-on-loop")
	d, err := matchers.Read(fx.Sys, strings.NewReader(""), fx.Swaps(), "sdb")
	if err != nil {
		t.Fatal(err)
	}
	want := []matchers.Loop{{Name: "loop0", On: "sdb"}, {Name: "loop2", On: "loop0", Partitions: []string{"loop2p1"}}}
	if diff := cmp.Diff(want, d.Loops); diff != "" {
		t.Errorf("Read(sdb).Loops differs (-want +got):\n%s", diff)
	}
	var r *matchers.Refusal
	if err := (matchers.Guard{}).Check(d); !errors.As(err, &r) || r.Reason != "it is in use by loop0, a loop device on sdb" || r.Kind != matchers.RefusedLoop {
		t.Errorf("Check(sdb, nothing mounted) = %v, want reason %q", err, "it is in use by loop0, a loop device on sdb")
	}
	sw := "Filename Type Size Used Priority\n/dev/loop2p1 partition 1048572 0 -2\n"
	if d, err = matchers.Read(fx.Sys, strings.NewReader(""), strings.NewReader(sw), "sdb"); err != nil {
		t.Fatal(err)
	}
	want1 := "loop2p1 is in use as swap, and loop2p1 is a partition of loop2, a loop device on loop0, a loop device on sdb"
	if err := (matchers.Guard{}).Check(d); !errors.As(err, &r) || r.Reason != want1 || r.Kind != matchers.RefusedSwap {
		t.Errorf("Check(sdb, swap on loop2p1) = %v, want reason %q", err, want1)
	}
}

func TestGuardCheckMountsAndFlags(t *testing.T) {
	base := read(t, load(t, "usb-stick-behind-hub"), "sdb")
	tests := []struct {
		edit   func(d *matchers.Device)
		reason string
		kind   matchers.RefusalKind
	}{
		{func(d *matchers.Device) { d.ReadOnly = true }, "it is read-only (write-protect switch?)", matchers.RefusedReadOnly},
		{func(d *matchers.Device) { d.Bus = "" }, "its bus is unknown (sysfs path " + base.SysPath + "); allowed buses: usb", matchers.RefusedBusUnknown},
		{func(d *matchers.Device) {
			d.Mounts = []matchers.Mount{{Device: "sdb2", MountPoint: "/dev/sdb2", FSType: "swap", Source: "/dev/sdb2"}}
		}, "sdb2 is in use as swap", matchers.RefusedSwap},
		{func(d *matchers.Device) {
			d.Mounts = []matchers.Mount{{Device: "sdb1", MountPoint: "/boot", FSType: "vfat", Source: "/dev/sdb1"}}
		}, "sdb1 is mounted at /boot (vfat)", matchers.RefusedMounted},
	}
	for _, tt := range tests {
		d := *base
		tt.edit(&d)
		var r *matchers.Refusal
		if err := (matchers.Guard{}).Check(&d); !errors.As(err, &r) || r.Reason != tt.reason || r.Kind != tt.kind {
			t.Errorf("Check(%+v) = %v (kind %v), want reason %q (kind %v)", d, err, kindOf(err), tt.reason, tt.kind)
		}
	}
}

func TestBaseline(t *testing.T) {
	fx := load(t, "card-reader-multi-lun")
	sdc, sdd := read(t, fx, "sdc"), read(t, fx, "sdd")
	b := matchers.NewBaseline([]*matchers.Device{sdc})
	if !b.Present(sdc) {
		t.Errorf("Present(sdc diskseq %d) = false, want true", sdc.DiskSeq)
	}
	if b.Present(sdd) {
		t.Errorf("Present(sdd) = true, want false (not recorded)")
	}
	replugged := *sdc
	replugged.DiskSeq++
	if b.Present(&replugged) {
		t.Errorf("Present(sdc diskseq %d) = true, want false (re-plugged under the same name)", replugged.DiskSeq)
	}
	old := *sdc
	old.DiskSeq = 0
	if !matchers.NewBaseline([]*matchers.Device{&old}).Present(&replugged) {
		t.Errorf("Present without a recorded diskseq = false, want true (the name alone decides)")
	}
}

const vanished = "it vanished before the first write"

func TestRecheck(t *testing.T) {
	const disk = hubStick + "/1-1.4:1.0/host6/target6:0:0/6:0:0:0/block/sdb/"
	tests := []struct {
		name   string
		edit   func(fstest.MapFS)
		reason string
	}{
		{"unchanged", func(fstest.MapFS) {}, ""},
		{"vanished", func(m fstest.MapFS) { delete(m, "block/sdb"); delete(m, "class/block/sdb") }, "it vanished before the first write"},
		{"new insertion", func(m fstest.MapFS) { m[disk+"diskseq"] = &fstest.MapFile{Data: []byte("15\n")} },
			"it changed before the first write: diskseq 15, was 14 (another disk took its name)"},
		{"other stick", func(m fstest.MapFS) { m[hubStick+"/serial"] = &fstest.MapFile{Data: []byte("OTHER\n")} },
			`it changed before the first write: serial "OTHER", was "4C530001230815117432"`},
		{"medium gone", func(m fstest.MapFS) { m[disk+"size"] = &fstest.MapFile{Data: []byte("0\n")} },
			"it changed before the first write: size 0 B, was 15.4 GB (15376318464 bytes)"},
	}
	for _, tt := range tests {
		fx := load(t, "usb-stick-behind-hub")
		want := read(t, fx, "sdb")
		tt.edit(fx.Sys)
		err := matchers.Recheck(fx.Sys, want)
		var r *matchers.Refusal
		switch {
		case tt.reason == "" && err != nil:
			t.Errorf("%s: Recheck(sdb) = %v, want nil", tt.name, err)
		case tt.reason != "" && (!errors.As(err, &r) || r.Reason != tt.reason):
			t.Errorf("%s: Recheck(sdb) = %v, want reason %q", tt.name, err, tt.reason)
		case tt.reason == vanished && r.Kind != matchers.RefusedVanished,
			tt.reason != vanished && tt.reason != "" && r.Kind != matchers.RefusedChanged:
			t.Errorf("%s: Recheck(sdb) kind = %v, want %v", tt.name, r.Kind, map[bool]matchers.RefusalKind{true: matchers.RefusedVanished, false: matchers.RefusedChanged}[tt.reason == vanished])
		}
	}
}

// TestNameOfAndIncludes: a device number leads to its kernel name, and a
// disk includes its partitions and the loop devices stacked on it, not
// an unrelated loop device.
func TestNameOfAndIncludes(t *testing.T) {
	fx := load(t, "usb-stick-loop-on-loop")
	for dev, want := range map[string]string{"8:16": "sdb", "8:17": "sdb1", "259:3": "loop2p1", "7:3": "loop3"} {
		if got, err := matchers.NameOf(fx.Sys, dev); err != nil || got != want {
			t.Errorf("NameOf(%s) = %q, %v; want %q", dev, got, err, want)
		}
	}
	for _, bad := range []string{"9:9", "../8:16", "8"} {
		if got, err := matchers.NameOf(fx.Sys, bad); err == nil {
			t.Errorf("NameOf(%q) = %q, nil; want an error", bad, got)
		}
	}
	d, err := matchers.Read(fx.Sys, strings.NewReader(""), nil, "sdb")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"sdb": true, "sdb1": true, "loop0": true, "loop2": true, "loop2p1": true, "loop3": false, "sda": false} {
		if got := d.Includes(name); got != want {
			t.Errorf("Read(sdb).Includes(%s) = %v, want %v", name, got, want)
		}
	}
}

// TestMountReadOnly: a mount is read-only when its filesystem is (the
// super options), not when only its mount point is.
func TestMountReadOnly(t *testing.T) {
	fx := load(t, "usb-stick-behind-hub")
	mi := "40 21 8:17 / /media/ro ro,relatime - vfat /dev/sdb1 ro,fmask=0022\n" +
		"41 21 8:17 / /media/bind ro,relatime - vfat /dev/sdb1 rw,fmask=0022\n" +
		"42 21 8:17 / /media/rw rw,relatime - vfat /dev/sdb1 rw,errors=remount-ro\n"
	d, err := matchers.Read(fx.Sys, strings.NewReader(mi), nil, "sdb")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range d.Mounts {
		got[m.MountPoint] = m.ReadOnly
	}
	want := map[string]bool{"/media/ro": true, "/media/bind": false, "/media/rw": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadOnly of each mount (-want +got):\n%s", diff)
	}
}

// kindOf returns the kind of a refusal, or 0 for any other error.
func kindOf(err error) matchers.RefusalKind {
	var r *matchers.Refusal
	if errors.As(err, &r) {
		return r.Kind
	}
	return 0
}

// TestRefusalKinds: every kind has its own name, a Prometheus label value
// (flashpipe_guard_refusals_total's reason), and one outside the list
// says it is not a kind.
func TestRefusalKinds(t *testing.T) {
	seen := map[string]bool{}
	label := regexp.MustCompile(`^[a-z][a-z_]*$`)
	for _, k := range matchers.RefusalKinds() {
		name := k.String()
		if !label.MatchString(name) || seen[name] {
			t.Errorf("RefusalKind(%d).String() = %q, want a unique lower_case word", int(k), name)
		}
		seen[name] = true
	}
	if n := len(matchers.RefusalKinds()); n != 12 {
		t.Errorf("len(RefusalKinds()) = %d, want 12", n)
	}
	if got := matchers.RefusalKind(0).String(); got != "RefusalKind(0)" {
		t.Errorf("RefusalKind(0).String() = %q, want RefusalKind(0)", got)
	}
}
