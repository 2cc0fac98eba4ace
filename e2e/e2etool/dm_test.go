package main

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func TestParseTable(t *testing.T) {
	ts, err := parseTable("0 2048 linear /dev/loop0 0\n2048 1024 zero;3072 8 error")
	if err != nil {
		t.Fatal(err)
	}
	want := []dmTarget{{0, 2048, "linear", "/dev/loop0 0"}, {2048, 1024, "zero", ""}, {3072, 8, "error", ""}}
	if len(ts) != len(want) {
		t.Fatalf("got %d targets, want %d", len(ts), len(want))
	}
	for i := range want {
		if ts[i] != want[i] {
			t.Errorf("target %d = %+v, want %+v", i, ts[i], want[i])
		}
	}
	for _, bad := range []string{"", "0 8", "0 x zero", "0 0 zero", "8 8 zero", "0 8 zero; 16 8 zero", "0 8 averyveryverylongtype"} {
		if _, err := parseTable(bad); err == nil {
			t.Errorf("parseTable(%q) = nil error, want one", bad)
		}
	}
}

// TestDMIoctlLayout checks the buffer against struct dm_ioctl and struct
// dm_target_spec as linux/dm-ioctl.h lays them out on amd64.
func TestDMIoctlLayout(t *testing.T) {
	ne := binary.NativeEndian
	ts := []dmTarget{{0, 2048, "linear", "/dev/loop0 0"}, {2048, 1024, "zero", ""}}
	buf, err := dmIoctl("fake1", dmSuspendFlag, ts)
	if err != nil {
		t.Fatal(err)
	}
	u32 := func(off int) uint32 { return ne.Uint32(buf[off:]) }
	for _, c := range []struct {
		what      string
		got, want uint32
	}{
		{"version[0]", u32(0), 4},
		{"version[1]", u32(4), 0},
		{"data_size", u32(12), uint32(len(buf))},
		{"data_start", u32(16), 312},
		{"target_count", u32(20), 2},
		{"flags", u32(28), dmSuspendFlag},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	if got := string(bytes.TrimRight(buf[48:48+128], "\x00")); got != "fake1" {
		t.Errorf("name = %q, want fake1", got)
	}
	// First spec right after the header; its params padded to 8 bytes.
	s := buf[312:]
	if ne.Uint64(s[0:]) != 0 || ne.Uint64(s[8:]) != 2048 {
		t.Errorf("spec 0 sector_start, length = %d, %d", ne.Uint64(s[0:]), ne.Uint64(s[8:]))
	}
	if got := string(bytes.TrimRight(s[24:40], "\x00")); got != "linear" {
		t.Errorf("spec 0 target_type = %q", got)
	}
	next := int(ne.Uint32(s[20:]))
	if want := 40 + 16; next != want { // "/dev/loop0 0" + NUL = 13 bytes, padded to 16
		t.Errorf("spec 0 next = %d, want %d", next, want)
	}
	if got, _, _ := strings.Cut(string(s[40:next]), "\x00"); got != "/dev/loop0 0" {
		t.Errorf("spec 0 params = %q", got)
	}
	s = s[next:]
	if ne.Uint64(s[0:]) != 2048 || ne.Uint64(s[8:]) != 1024 || ne.Uint32(s[20:]) != 0 {
		t.Errorf("spec 1 = start %d length %d next %d, want 2048 1024 0", ne.Uint64(s[0:]), ne.Uint64(s[8:]), ne.Uint32(s[20:]))
	}
	if got := string(bytes.TrimRight(s[24:40], "\x00")); got != "zero" {
		t.Errorf("spec 1 target_type = %q", got)
	}
	if s[40] != 0 {
		t.Errorf("spec 1 params not empty")
	}

	if _, err := dmIoctl(strings.Repeat("n", 128), 0, nil); err == nil {
		t.Error("a 128-byte name was taken; DM_NAME_LEN leaves room for 127 and the NUL")
	}
}

func TestDMDev(t *testing.T) {
	for _, c := range []struct{ major, minor uint32 }{{254, 0}, {254, 3}, {253, 300}} {
		buf := make([]byte, dmHeaderSize)
		// huge_encode_dev in the kernel
		d := uint64(c.minor&0xff) | uint64(c.major)<<8 | uint64(c.minor&^0xff)<<12
		binary.NativeEndian.PutUint64(buf[40:], d)
		if maj, mnr := dmDev(buf); maj != c.major || mnr != c.minor {
			t.Errorf("dmDev(%#x) = %d:%d, want %d:%d", d, maj, mnr, c.major, c.minor)
		}
	}
}
