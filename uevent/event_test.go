package uevent

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// loopChange is the shape of what the kernel sends when a loop device is
// attached (captured with this package on Linux 6.x).
const loopChange = "change@/devices/virtual/block/loop0\x00ACTION=change\x00DEVPATH=/devices/virtual/block/loop0\x00" +
	"SUBSYSTEM=block\x00DISK_MEDIA_CHANGE=1\x00MAJOR=7\x00MINOR=0\x00DEVNAME=loop0\x00DEVTYPE=disk\x00DISKSEQ=35\x00SEQNUM=4242\x00"

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Event
	}{
		{"loop change", loopChange, &Event{
			Action: "change", DevPath: "/devices/virtual/block/loop0", Subsystem: "block", DevType: "disk", DevName: "loop0", Seq: 4242,
			Env: map[string]string{"ACTION": "change", "DEVPATH": "/devices/virtual/block/loop0", "SUBSYSTEM": "block",
				"DISK_MEDIA_CHANGE": "1", "MAJOR": "7", "MINOR": "0", "DEVNAME": "loop0", "DEVTYPE": "disk", "DISKSEQ": "35", "SEQNUM": "4242"},
		}},
		{"usb stick add, values with =", "add@/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.4\x00ACTION=add\x00" +
			"DEVPATH=/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.4\x00SUBSYSTEM=usb\x00DEVNAME=bus/usb/001/007\x00" +
			"DEVTYPE=usb_device\x00PRODUCT=781/5567/100\x00TYPE=0/0/0\x00BUSNUM=001\x00DEVNUM=007\x00SEQNUM=5001\x00" +
			"MODALIAS=a=b=c\x00EMPTY=\x00", &Event{
			Action: "add", DevPath: "/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.4", Subsystem: "usb", DevType: "usb_device",
			DevName: "bus/usb/001/007", Seq: 5001,
			Env: map[string]string{"ACTION": "add", "DEVPATH": "/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.4", "SUBSYSTEM": "usb",
				"DEVNAME": "bus/usb/001/007", "DEVTYPE": "usb_device", "PRODUCT": "781/5567/100", "TYPE": "0/0/0", "BUSNUM": "001",
				"DEVNUM": "007", "SEQNUM": "5001", "MODALIAS": "a=b=c", "EMPTY": ""},
		}},
		{"no trailing NUL, no env", "remove@/devices/virtual/block/loop1", &Event{
			Action: "remove", DevPath: "/devices/virtual/block/loop1", Env: map[string]string{},
		}},
	}
	for _, tt := range tests {
		got, err := Parse([]byte(tt.in))
		if err != nil {
			t.Errorf("%s: Parse(%q) error: %v", tt.name, tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: Parse mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestParseRejects(t *testing.T) {
	libudev := "libudev\x00\xfe\xed\xca\xfe\x28\x00\x00\x00\x28\x00\x00\x00\x50\x00\x00\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"ACTION=add\x00DEVPATH=/devices/virtual/block/loop0\x00SUBSYSTEM=block\x00SEQNUM=1\x00"
	if _, err := Parse([]byte(libudev)); !errors.Is(err, ErrLibudev) {
		t.Errorf("Parse(libudev datagram) error = %v, want ErrLibudev", err)
	}
	for _, in := range []string{
		"",
		"\x00",
		"garbage",
		"\xff\xfe\x00\x01",
		"add/devices/x\x00",
		"explode@/devices/x\x00",
		"add@devices/x\x00",
		"add@/devices/x\x00NOEQUALS\x00",
		"add@/devices/x\x00=value\x00",
		"add@/devices/x\x00ACTION=remove\x00",
		"add@/devices/x\x00DEVPATH=/devices/y\x00",
		"add@/devices/x\x00SEQNUM=12a\x00",
		"add@/devices/x\x00SEQNUM=99999999999999999999999\x00",
	} {
		if ev, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q) = %+v, nil, want an error", in, ev)
		}
	}
}

// encode is the inverse of Parse, for the fuzz round trip.
func encode(e *Event) []byte {
	var b strings.Builder
	b.WriteString(e.Action + "@" + e.DevPath + "\x00")
	for _, k := range slices.Sorted(maps.Keys(e.Env)) {
		b.WriteString(k + "=" + e.Env[k] + "\x00")
	}
	return []byte(b.String())
}

// FuzzParse checks that Parse never panics and that what it accepts is well
// formed and survives a round trip. Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(loopChange))
	f.Add([]byte("add@/devices/x\x00K=a=b\x00"))
	f.Add([]byte("libudev\x00\xfe\xed\xca\xfe"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Parse(b)
		if err != nil {
			if e != nil {
				t.Fatalf("Parse(%q) = %+v, %v: want a nil event with an error", b, e, err)
			}
			return
		}
		if !validAction(e.Action) || !strings.HasPrefix(e.DevPath, "/") || strings.Contains(e.DevPath, "\x00") {
			t.Fatalf("Parse(%q) accepted action %q devpath %q", b, e.Action, e.DevPath)
		}
		for k, v := range e.Env {
			if k == "" || strings.ContainsAny(k, "=\x00") || strings.Contains(v, "\x00") {
				t.Fatalf("Parse(%q) accepted env %q=%q", b, k, v)
			}
		}
		again, err := Parse(encode(e))
		if err != nil {
			t.Fatalf("Parse(encode(Parse(%q))) error: %v", b, err)
		}
		if diff := cmp.Diff(e, again); diff != "" {
			t.Fatalf("round trip of %q mismatch (-first +second):\n%s", b, diff)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	msg := []byte(loopChange)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := Parse(msg); err != nil {
			b.Fatal(err)
		}
	}
}
