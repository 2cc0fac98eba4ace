package matchers

import (
	"testing"
	"testing/fstest"

	"github.com/flashpipe/flashpipe/matchers/sysfstest"
	"github.com/google/go-cmp/cmp"
)

func TestHubPorts(t *testing.T) {
	fx, err := sysfstest.Load("testdata/sysfs/usb-stick-behind-hub.txtar")
	if err != nil {
		t.Fatal(err)
	}
	got, err := HubPorts(fx.Sys)
	if err != nil {
		t.Fatalf("HubPorts() error = %v", err)
	}
	want := []Port{
		{Path: "1-1", Product: "USB2.0 Hub", InUse: true},
		{Path: "1-1.1"}, {Path: "1-1.2"}, {Path: "1-1.3"},
		{Path: "1-1.4", Product: "Cruzer Blade", InUse: true},
		{Path: "1-2"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("HubPorts() (-want +got):\n%s", diff)
	}
	// The stick's port path is the one HubPorts gives for its port.
	d, err := ReadFrom(fx.Sys, fx.Proc, "sdb")
	if err != nil {
		t.Fatal(err)
	}
	if d.Port != "1-1.4" {
		t.Errorf("Device.Port = %q, want 1-1.4, the path HubPorts lists", d.Port)
	}
	if diff := cmp.Diff([]Port{got[1], got[2], got[3], got[4]}, MatchPorts(got, []string{"1-1.*"})); diff != "" {
		t.Errorf("MatchPorts(1-1.*) (-want +got):\n%s", diff)
	}
}

func TestHubPortsWithoutUSB(t *testing.T) {
	got, err := HubPorts(fstest.MapFS{"class/block/vda/dev": {Data: []byte("254:0\n")}})
	if err != nil || len(got) != 0 {
		t.Errorf("HubPorts(no bus/usb) = %v, %v; want none, nil", got, err)
	}
}

func TestComparePortPaths(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1-1.2", "1-1.10", -1}, {"2-1", "10-1", -1}, {"1-1", "1-1.1", -1}, {"1-1.4", "1-1.4", 0}, {"3-2", "3-1.9", 1},
	} {
		if got := comparePortPaths(c.a, c.b); got != c.want {
			t.Errorf("comparePortPaths(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
