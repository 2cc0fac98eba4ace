package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/blockdev/looptest"
	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/station"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/flashpipe/flashpipe/uevent"
	"github.com/hashicorp/go-hclog"
)

// fieldsBase is the size of the first loop device of TestDeviceFields in
// MiB; field i gets fieldsBase+i MiB. No other test uses these sizes, so the
// stations of other tests leave these devices alone and this test's
// station takes only its own.
const fieldsBase = 80

// deviceFields returns the attributes of the device object, sorted: the
// test covers every one, so a new attribute needs an expectation here.
func deviceFields() []string {
	var names []string
	for n := range pipeline.DeviceType.AttributeTypes() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// fieldsConfig writes a station file with one profile per device
// attribute, "f-NAME", whose exFAT label is "=" and that attribute: the
// label the job writes is what the expression saw. Profile i takes loop
// devices of fieldsBase+i MiB.
func fieldsConfig(t *testing.T, dir string) string {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("station {\n  name = \"fields\"\n  allow_buses = [\"loop\"]\n  concurrency = 4\n}\n")
	for i, f := range deviceFields() {
		fmt.Fprintf(&sb, `profile "f-%s" {
  match {
    bus  = "loop"
    size = "%dMiB..%dMiB"
  }
  step "partition" { table = "none" }
  step "mkfs" {
    type  = "exfat"
    label = "=${device.%s}"
  }
  step "verify" {}
}
`, f, fieldsBase+i, fieldsBase+i, f)
	}
	path := filepath.Join(dir, "fields.hcl")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// seen is what one job's label expression saw, and the device it ran on.
type seen struct {
	label string            // the label the job wrote
	want  map[string]string // every attribute's true value for that device
}

// imageWant is the device object of an image file of size bytes named name.
func imageWant(name string, size int64) map[string]string {
	return map[string]string{"name": name, "bus": "file", "size": strconv.FormatInt(size, 10), "diskseq": "0",
		"vendor_id": "", "product_id": "", "serial": "", "manufacturer": "", "product": "", "port": "",
		"usable_size": strconv.FormatInt(size, 10)}
}

// loopWant is the device object of the loop device dev of size bytes.
func loopWant(t *testing.T, dev string, size int64) map[string]string {
	t.Helper()
	name := filepath.Base(dev)
	seq := "0"
	if b, err := os.ReadFile(filepath.Join("/sys/block", name, "diskseq")); err == nil {
		seq = strings.TrimSpace(string(b))
	}
	return map[string]string{"name": name, "bus": "loop", "size": strconv.FormatInt(size, 10), "diskseq": seq,
		"vendor_id": "", "product_id": "", "serial": "", "manufacturer": "", "product": "", "port": "",
		"usable_size": strconv.FormatInt(size, 10)}
}

// flashLabel runs `flashpipe flash` with profile f-field on target and
// returns the label of its receipt.
func flashLabel(t *testing.T, cfg, field, target string, extra ...string) string {
	t.Helper()
	args := append([]string{"flash", cfg, "--profile", "f-" + field, "--receipts", filepath.Join(t.TempDir(), "r.jsonl")}, extra...)
	code, out, errs := runCLI(t, append(args, target)...)
	var r receipts.Receipt
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil {
		t.Fatalf("flashpipe %v = exit %d, receipt %v; stdout:\n%s\nstderr:\n%s", args, code, err, out, errs)
	}
	return r.Label
}

var buildLabelRE = regexp.MustCompile(`label "([^"]*)"`)

// TestDeviceFields checks that every device.* attribute holds its real
// value in a per-device expression, for every kind of target: a loop
// device under `run` and under `flash`, an image file under `flash` and
// under `build`. Each attribute has its own profile, whose exFAT label is
// "=" and the attribute; the label the real job path writes (the receipt's,
// or build's report) is what the expression saw.
func TestDeviceFields(t *testing.T) {
	dir := t.TempDir()
	cfg := fieldsConfig(t, dir)
	const imgSize = fieldsBase << 20
	kinds := []struct {
		name    string
		observe func(t *testing.T) map[string]seen
	}{
		{"run on a loop device", func(t *testing.T) map[string]seen { return observeRun(t, cfg) }},
		{"flash on a loop device", func(t *testing.T) map[string]seen {
			looptest.Require(t)
			size := int64(fieldsBase+len(deviceFields())) << 20
			dev := looptest.Attach(t, looptest.Sparse(t, t.TempDir(), size), 0)
			out := map[string]seen{}
			for _, f := range deviceFields() {
				out[f] = seen{flashLabel(t, cfg, f, dev), loopWant(t, dev, size)}
			}
			return out
		}},
		{"flash on an image file", func(t *testing.T) map[string]seen {
			t.Chdir(t.TempDir()) // a short relative name fits in a label
			out := map[string]seen{}
			for _, f := range deviceFields() {
				out[f] = seen{flashLabel(t, cfg, f, "f.img", "--size", "80MiB"), imageWant("f.img", imgSize)}
				os.Remove("f.img")
			}
			return out
		}},
		{"build", func(t *testing.T) map[string]seen {
			t.Chdir(t.TempDir())
			out := map[string]seen{}
			for _, f := range deviceFields() {
				code, stdout, stderr := runCLI(t, "build", cfg, "--profile", "f-"+f, "--size", "80MiB", "-o", "b.img")
				m := buildLabelRE.FindStringSubmatch(stdout)
				if code != 0 || m == nil {
					t.Fatalf("build --profile f-%s = exit %d, stdout %q; stderr:\n%s", f, code, stdout, stderr)
				}
				out[f] = seen{m[1], imageWant("b.img", imgSize)}
			}
			return out
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			got := k.observe(t)
			for _, f := range deviceFields() {
				s, ok := got[f]
				want, known := s.want[f]
				switch {
				case !ok:
					t.Errorf("device.%s: no job ran with its label", f)
				case !known:
					t.Errorf("device.%s: the test has no expectation for this attribute", f)
				case s.label != "="+want:
					t.Errorf("device.%s as the label saw it = %q, want %q", f, strings.TrimPrefix(s.label, "="), want)
				}
			}
		})
	}
}

// observeRun runs a station over the real uevent socket and attaches one
// loop device per attribute, sized for that attribute's profile.
func observeRun(t *testing.T, cfgPath string) map[string]seen {
	looptest.Require(t)
	cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadFiles([]string{cfgPath})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	l, err := uevent.Listen()
	testreq.Capability(t, "a NETLINK_KOBJECT_UEVENT socket", err)
	defer l.Close()
	rpath := filepath.Join(t.TempDir(), "receipts.jsonl")
	sysfs, procfs := matchers.OSRoots()
	st := station.New(station.Options{Config: cfg, Sysfs: sysfs, SysfsRoot: "/sys", Procfs: procfs, DevDir: "/dev",
		Uevents: l, Receipts: rpath, Log: hclog.NewNullLogger()})
	intake, stop := context.WithCancel(context.Background())
	done := make(chan station.Summary)
	go func() { done <- st.Run(intake, context.Background()) }()
	defer func() { stop(); <-done }()
	time.Sleep(300 * time.Millisecond) // let Run record the baseline

	wants := map[string]map[string]string{} // by device name
	for i := range deviceFields() {
		size := int64(fieldsBase+i) << 20
		dev := looptest.Attach(t, looptest.Sparse(t, t.TempDir(), size), 0)
		wants[filepath.Base(dev)] = loopWant(t, dev, size)
	}
	out := map[string]seen{}
	for _, r := range waitFileReceipts(t, rpath, len(deviceFields())) {
		if r.Result != "done" {
			t.Errorf("job %d on %s: %s: %s", r.Job, r.Device.Name, r.Result, r.Error)
		}
		out[strings.TrimPrefix(r.Profile, "f-")] = seen{r.Label, wants[r.Device.Name]}
	}
	return out
}

// waitFileReceipts waits until the receipts file holds n receipts.
func waitFileReceipts(t *testing.T, path string, n int) []receipts.Receipt {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if rs := readReceipts(t, path); len(rs) >= n || time.Now().After(deadline) {
			return rs
		}
		time.Sleep(100 * time.Millisecond)
	}
}
