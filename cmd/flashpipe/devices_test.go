package main

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/matchers/sysfstest"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/steps"
)

// TestWriteDevices renders `flashpipe devices` over sysfs fixtures: the
// stick behind a hub is writable and routed to the profile whose vendor id
// matches; the SATA disk and the disk holding / are refused with reasons.
func TestWriteDevices(t *testing.T) {
	var devs []*matchers.Device
	for _, fx := range []string{"usb-stick-behind-hub", "sata-disk", "usb-root-disk"} {
		f, err := sysfstest.Load(filepath.Join("..", "..", "matchers", "testdata", "sysfs", fx+".txtar"))
		if err != nil {
			t.Fatal(err)
		}
		names, err := matchers.List(f.Sys)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			d, err := matchers.Read(f.Sys, f.Mountinfo(), f.Swaps(), n)
			if err != nil {
				t.Fatalf("%s: Read(%s): %v", fx, n, err)
			}
			devs = append(devs, d)
		}
	}
	stick := devs[0]
	src := `profile "by-vendor" {
  match { vendor_id = "` + fmt.Sprintf("%04x", stick.VendorID) + `" }
  step "wipe" {}
}`
	cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadSource("d.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var out bytes.Buffer
	writeDevices(&out, devs, matchers.Guard{}, cfg)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1+len(devs) {
		t.Fatalf("writeDevices printed %d lines, want %d:\n%s", len(lines), 1+len(devs), out.String())
	}
	for i, d := range devs {
		line := lines[i+1]
		writable := strings.Contains(line, "writable")
		if want := d == stick; writable != want {
			t.Errorf("%s: writable = %v, want %v:\n%s", d.Name, writable, want, line)
		}
		if d == stick && (!strings.HasSuffix(line, "by-vendor") || !strings.Contains(line, d.Port)) {
			t.Errorf("stick row lacks its port %s or profile by-vendor:\n%s", d.Port, line)
		}
	}
}

// TestWritePorts renders `flashpipe devices --ports` over the hub fixture:
// every port of the root hub and the hub, what is plugged in, and which
// ports station.ports gives a dashboard tile (the web API's list).
func TestWritePorts(t *testing.T) {
	f, err := sysfstest.Load(filepath.Join("..", "..", "matchers", "testdata", "sysfs", "usb-stick-behind-hub.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	ports, err := matchers.HubPorts(f.Sys)
	if err != nil {
		t.Fatal(err)
	}
	src := `station { ports = ["1-1.*"] }
profile "p" {
  step "wipe" {}
}`
	cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadSource("d.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var out bytes.Buffer
	writePorts(&out, ports, cfg)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n")[1:] {
		got = append(got, strings.Join(strings.Fields(l), " "))
	}
	want := []string{"1-1 USB2.0 Hub no", "1-1.1 - yes", "1-1.2 - yes", "1-1.3 - yes", "1-1.4 Cruzer Blade yes", "1-2 - no"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("writePorts printed\n%s\nwant rows\n%s", out.String(), strings.Join(want, "\n"))
	}
	out.Reset()
	writePorts(&out, nil, cfg)
	if !strings.Contains(out.String(), "no USB hub ports") {
		t.Errorf("writePorts(none) = %q, want a line saying there are none", out.String())
	}
}

// TestDashboardPorts: the station's dashboard lists, for its idle tiles,
// the hub ports in sysfs that station.ports selects, and follows a reload
// of the config (docs/config.md and docs/operator.md describe this).
func TestDashboardPorts(t *testing.T) {
	f, err := sysfstest.Load(filepath.Join("..", "..", "matchers", "testdata", "sysfs", "usb-stick-behind-hub.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	load := func(station string) *pipeline.Config {
		cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadSource("d.hcl", []byte(station+"\nprofile \"p\" {\n  step \"wipe\" {}\n}\n"))
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		return cfg
	}
	// httptest's requests are for example.com: a tokenless dashboard
	// answers them only as one of station.allowed_hosts.
	cfg := load(`station {
  ports         = ["1-1.[12]", "1-2"]
  allowed_hosts = ["example.com"]
}`)
	h := dashboard(status.NewBoard(), func() *pipeline.Config { return cfg }, nil, nil, f.Sys, "", cfg.Station.AllowedHosts)
	get := func() string {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/api/ports", nil))
		return strings.TrimSpace(w.Body.String())
	}
	if got, want := get(), `["1-1.1","1-1.2","1-2"]`; got != want {
		t.Errorf("GET /api/ports with station.ports = %s, want %s", got, want)
	}
	cfg = load(`station {}`)
	if got := get(); got != "[]" {
		t.Errorf("GET /api/ports after a reload without station.ports = %s, want []", got)
	}
}

// TestDevicesBrokenFiles: devices with station files that have errors
// shows them and exits 1 before listing anything.
func TestDevicesBrokenFiles(t *testing.T) {
	f := "../../pipeline/testdata/errors/references.hcl"
	code, out, errs := runCLI(t, "devices", f)
	if code != 1 || out != "" || !strings.Contains(errs, "Error: ") || !strings.Contains(errs, "on "+f+" line ") {
		t.Errorf("devices %s = %d, stdout %q, stderr:\n%s\nwant 1, nothing listed, the errors with their lines", f, code, out, errs)
	}
}
