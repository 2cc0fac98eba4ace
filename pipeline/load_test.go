package pipeline_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// load compiles src and fails the test on any error; it returns the
// warnings.
func load(t *testing.T, l *pipeline.Loader, src string) (*pipeline.Config, hcl.Diagnostics) {
	t.Helper()
	cfg, diags := l.LoadSource("test.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("LoadSource errors:\n%s", dump(diags))
	}
	return cfg, diags
}

// route picks the first profile, in routing order, whose match takes d:
// what the station does.
func route(cfg *pipeline.Config, d *matchers.Device) string {
	for _, p := range cfg.Profiles {
		if ok, _ := p.Match.Match(d); ok {
			return p.Name
		}
	}
	return ""
}

const routingSrc = `
profile "fallback" {
  step "wipe" {}
}
profile "sandisk" {
  priority = 10
  match { vendor_id = "0781" }
  step "wipe" {}
}
profile "sandisk-big" {
  priority = 20
  match {
    vendor_id = "0x0781"
    size      = ">= 32GB"
  }
  step "wipe" {}
}
profile "port-4" {
  priority = 15
  match { port = "1-1.4" }
  step "wipe" {}
}
`

// TestRoutingOrder: profiles are sorted by priority, highest first, and a
// stick goes to the first that matches.
func TestRoutingOrder(t *testing.T) {
	cfg, _ := load(t, newLoader(), routingSrc)
	var names []string
	for _, p := range cfg.Profiles {
		names = append(names, p.Name)
	}
	if diff := cmp.Diff([]string{"sandisk-big", "port-4", "sandisk", "fallback"}, names); diff != "" {
		t.Errorf("profile order (-want +got):\n%s", diff)
	}
	const gb = 1000 * 1000 * 1000
	for _, tc := range []struct {
		dev  matchers.Device
		want string
	}{
		{matchers.Device{Bus: "usb", VendorID: 0x0781, Size: 64 * gb, Port: "1-1.4"}, "sandisk-big"},
		{matchers.Device{Bus: "usb", VendorID: 0x0781, Size: 16 * gb, Port: "1-1.4"}, "port-4"},
		{matchers.Device{Bus: "usb", VendorID: 0x0781, Size: 16 * gb, Port: "1-1.2"}, "sandisk"},
		{matchers.Device{Bus: "usb", VendorID: 0x0951, Size: 16 * gb, Port: "1-1.2"}, "fallback"},
	} {
		if got := route(cfg, &tc.dev); got != tc.want {
			t.Errorf("route(%+v) = %q, want %q", tc.dev, got, tc.want)
		}
	}
}

// TestNominalSizeRouting: profiles for sticks sold as 8, 16 and 32 GB
// take sticks by the capacity they really report, and bands of the same
// priority are disjoint (no overlap warning).
func TestNominalSizeRouting(t *testing.T) {
	cfg, diags := load(t, newLoader(), `
profile "eight" {
  match { size = "~8GB" }
  step "wipe" {}
}
profile "sixteen" {
  match { size = "~16GB" }
  step "wipe" {}
}
profile "thirty-two-up" {
  match { size = ">= ~32GB" }
  step "wipe" {}
}
`)
	if len(diags) > 0 {
		t.Errorf("diagnostics:\n%s", dump(diags))
	}
	for _, tc := range []struct {
		size int64
		want string
	}{
		{7_743_995_904, "eight"},
		{8_004_304_896, "eight"},
		{8_589_934_592, ""}, // 8 GiB: no stick sold as 8 GB is that large
		{15_376_318_464, "sixteen"},
		{16_008_609_792, "sixteen"},
		{30_752_636_928, "thirty-two-up"},
		{123_010_547_712, "thirty-two-up"},
		{4_000_000_000, ""},
	} {
		if got := route(cfg, &matchers.Device{Bus: "usb", Size: tc.size}); got != tc.want {
			t.Errorf("route(size %d) = %q, want %q", tc.size, got, tc.want)
		}
	}
}

// TestEqualPriorityOrderByName: profiles of equal priority route by name,
// whatever order the files declare them in.
func TestEqualPriorityOrderByName(t *testing.T) {
	cfg, _ := load(t, newLoader(), `
profile "b" {
  match { vendor_id = "0002" }
  step "wipe" {}
}
profile "a" {
  match { vendor_id = "0001" }
  step "wipe" {}
}
`)
	if got := cfg.Profiles[0].Name + cfg.Profiles[1].Name; got != "ab" {
		t.Errorf("profile order = %q, want \"ab\"", got)
	}
}

// TestLoadDirectory loads a directory of files that refer to each other's
// variables and sources, as one station.
func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "content"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("content/a.txt", "a\n")
	write("00-station.hcl", "station {\n  name = \"dir\"\n}\nvariable \"event\" {\n  default = \"fair\"\n}\n")
	write("10-sources.hcl", "source \"docs\" {\n  paths = [\"content\"]\n}\n")
	write("20-profile.hcl", `profile "p" {
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    label = upper(var.event)
  }
  step "copy" { sources = [source.docs] }
  step "verify" {}
}
`)
	write("notes.txt", "not a station file")
	files, err := pipeline.ExpandPaths([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("ExpandPaths(%s) = %v, want the 3 .hcl files", dir, files)
	}
	cfg, diags := newLoader().LoadFiles(files)
	if len(diags) > 0 {
		t.Fatalf("LoadFiles(%s) diagnostics:\n%s", dir, dump(diags))
	}
	if cfg.Station.Name != "dir" {
		t.Errorf("Station.Name = %q, want \"dir\"", cfg.Station.Name)
	}
	src := cfg.Sources["docs"]
	if want := filepath.Join(dir, "content"); src == nil || len(src.Paths) != 1 || src.Paths[0] != want {
		t.Errorf("Sources[docs] = %+v, want paths [%s] (relative to the declaring file)", src, want)
	}
	if len(cfg.Profiles) != 1 || cfg.Profiles[0].Write == nil || len(cfg.Profiles[0].Write.Copies) != 1 {
		t.Fatalf("profile p did not compile a copy into its layout")
	}
	if cfg.Digest == "" {
		t.Errorf("Digest is empty")
	}

	// The same files one by one: the profile alone cannot see the source.
	_, diags = newLoader().LoadFiles(files[2:])
	if !diags.HasErrors() {
		t.Errorf("LoadFiles(%s) alone = no errors, want undefined var and source", files[2])
	}

	if _, err := pipeline.ExpandPaths([]string{t.TempDir()}); err == nil {
		t.Errorf("ExpandPaths(empty dir) = nil error, want one")
	}
}

// TestDigestChanges: the digest tells configs apart.
func TestDigestChanges(t *testing.T) {
	a, _ := load(t, newLoader(), "profile \"a\" {\n  step \"wipe\" {}\n}\n")
	b, _ := load(t, newLoader(), "profile \"a\" {\n  step \"wipe\" { mode = \"zero\" }\n}\n")
	if a.Digest == b.Digest {
		t.Errorf("Digest of two different configs = %s for both", a.Digest)
	}
}

// TestOverlapWarning: two profiles of the same priority that a stick may
// both match give one warning on the second; disjoint ones none.
func TestOverlapWarning(t *testing.T) {
	_, diags := load(t, newLoader(), `
profile "a" {
  match { vendor_id = ["0781", "0951"] }
  step "wipe" {}
}
profile "b" {
  match { vendor_id = "0951" }
  step "wipe" {}
}
profile "c" {
  match { vendor_id = "1234" }
  step "wipe" {}
}
`)
	if len(diags) != 1 {
		t.Fatalf("diagnostics = %s, want one overlap warning", dump(diags))
	}
	d := diags[0]
	if d.Severity != hcl.DiagWarning || d.Summary != "Profiles may overlap" || d.Subject.Start.Line != 6 {
		t.Errorf("diagnostic = %s, want warning \"Profiles may overlap\" on line 6", dump(diags))
	}
	if !strings.Contains(d.Detail, `"a" wins`) {
		t.Errorf("detail = %q, want it to say \"a\" wins", d.Detail)
	}
}

const varsSrc = `
variable "event" {
  type    = string
  default = "expo"
}
variable "copies" {
  type    = number
  default = 1
}
variable "customer" {
  type = string
}
profile "p" {
  priority = var.copies
  step "wipe" {}
}
`

// TestVariables: --var wins over the environment, which wins over the
// default; numbers are checked; a required variable without a value is an
// error on its block.
func TestVariables(t *testing.T) {
	l := newLoader()
	l.Vars = map[string]string{"customer": "acme", "copies": "3"}
	l.Env = []string{"PATH=/bin", "FLASHPIPE_VAR_copies=9", "FLASHPIPE_VAR_event=fair"}
	cfg, _ := load(t, l, varsSrc)
	want := map[string]cty.Value{
		"event":    cty.StringVal("fair"),
		"copies":   cty.NumberIntVal(3),
		"customer": cty.StringVal("acme"),
	}
	for k, w := range want {
		if got := cfg.Vars[k]; !got.RawEquals(w) {
			t.Errorf("Vars[%s] = %#v, want %#v", k, got, w)
		}
	}
	if got := cfg.Profiles[0].Priority; got != 3 {
		t.Errorf("priority = var.copies = %d, want 3", got)
	}

	l = newLoader()
	l.Vars = map[string]string{"copies": "three"}
	l.Env = []string{"FLASHPIPE_VAR_customer=from-env"}
	_, diags := l.LoadSource("test.hcl", []byte(varsSrc))
	if len(diags) != 1 || diags[0].Summary != "Invalid variable value" || diags[0].Subject.Start.Line != 6 {
		t.Errorf("--var copies=three: diagnostics = %s, want one \"Invalid variable value\" on line 6", dump(diags))
	}

	_, diags = newLoader().LoadSource("test.hcl", []byte(varsSrc))
	if len(diags) != 1 || diags[0].Summary != "No value for required variable" || diags[0].Subject.Start.Line != 10 {
		t.Errorf("no customer: diagnostics = %s, want one \"No value for required variable\" on line 10", dump(diags))
	}
}

// TestLocalsOrder: locals are evaluated in dependency order, across
// blocks, whatever order they are written in.
func TestLocalsOrder(t *testing.T) {
	cfg, _ := load(t, newLoader(), `
variable "event" {
  default = "expo"
}
locals {
  label = "${local.prefix}-${local.year}"
  year  = 2026
}
locals {
  prefix = upper(local.short)
  short  = substr(var.event, 0, 3)
}
profile "p" {
  step "wipe" {}
}
`)
	want := map[string]cty.Value{
		"short":  cty.StringVal("exp"),
		"prefix": cty.StringVal("EXP"),
		"year":   cty.NumberIntVal(2026),
		"label":  cty.StringVal("EXP-2026"),
	}
	for k, w := range want {
		if got := cfg.Locals[k]; !got.RawEquals(w) {
			t.Errorf("Locals[%s] = %#v, want %#v", k, got, w)
		}
	}
}

// TestLocalsSelfReference: a local that refers to itself is a cycle.
func TestLocalsSelfReference(t *testing.T) {
	_, diags := newLoader().LoadSource("test.hcl", []byte("locals {\n  a = local.a\n}\nprofile \"p\" {\n  step \"wipe\" {}\n}\n"))
	if len(diags) != 1 || diags[0].Summary != "Local value cycle" || diags[0].Subject.Start.Line != 2 {
		t.Errorf("diagnostics = %s, want one \"Local value cycle\" on line 2", dump(diags))
	}
}

const labelSrc = `
station {
  name = "hall-a"
}
variable "event" {
  default = "expo"
}
profile "p" {
  step "partition" {}
  step "mkfs" {
    type  = "vfat"
    label = "${station.name}:${device.serial}:${device.vendor_id}:${device.size}:${var.event}:${now}"
  }
  step "label" {
    label = upper(format("EXPO%03d", job.seq))
  }
}
`

// TestDeviceContext evaluates per-device expressions for a real device and
// job number.
func TestDeviceContext(t *testing.T) {
	cfg, _ := load(t, newLoader(), labelSrc)
	dev := &matchers.Device{Name: "sdb", Bus: "usb", VendorID: 0x781, ProductID: 0x5567, Serial: "4C53ab", Size: 8 << 30}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))
	ctx := cfg.DeviceContext(dev, "/dev/sdb", 7, now)

	p := cfg.Profiles[0]
	got, diags := pipeline.EvalString(p.Write.Label, ctx)
	if diags.HasErrors() || got != "EXPO007" {
		t.Errorf("EvalString(label) = %q, %s, want \"EXPO007\"", got, dump(diags))
	}
	mkfsLabel := p.Steps[1].Meta.Rest
	attrs, _ := mkfsLabel.JustAttributes()
	got, diags = pipeline.EvalString(attrs["label"].Expr, ctx)
	want := "hall-a:4C53ab:0781:8589934592:expo:2026-05-01T11:00:00Z"
	if diags.HasErrors() || got != want {
		t.Errorf("EvalString(mkfs label) = %q, %s, want %q", got, dump(diags), want)
	}

	// An image file has no device: the device's strings are empty.
	ctx = cfg.DeviceContext(nil, "/tmp/out.img", 12, now)
	got, _ = pipeline.EvalString(p.Write.Label, ctx)
	if got != "EXPO012" {
		t.Errorf("EvalString(label) for an image = %q, want \"EXPO012\"", got)
	}
	v := pipeline.DeviceValue(nil, "/tmp/out.img")
	if n := v.GetAttr("name").AsString(); n != "/tmp/out.img" {
		t.Errorf("DeviceValue(nil).name = %q, want the target", n)
	}
}

// TestCompiledStages: partition, mkfs, copy and label are fused into one
// write stage between wipe and verify; other steps are their own stages.
func TestCompiledStages(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `
source "docs" {
  paths = ["` + dir + `"]
}
profile "p" {
  step "wipe" {
    timeout = "1m"
  }
  step "partition" {
    table   = "gpt"
    timeout = "5m"
    partition_name = "DATA"
  }
  step "mkfs" {
    type         = "exfat"
    cluster_size = "128KiB"
    retries      = 2
  }
  step "copy" { sources = [source.docs] }
  step "copy" {
    paths       = ["` + dir + `/a.txt"]
    destination = "/extra/"
    timeout     = "2m"
  }
  step "label" { label = format("X%d", job.seq) }
  step "verify" {}
  step "eject" { even_if_failed = true }
}
`
	cfg, _ := load(t, newLoader(), src)
	p := cfg.Profiles[0]
	type stage struct {
		Name    string
		Kinds   string
		Timeout time.Duration
		Retries int
		Runner  bool
	}
	var got []stage
	for _, s := range p.Stages {
		var kinds []string
		for _, sb := range s.Steps {
			kinds = append(kinds, sb.Kind)
		}
		got = append(got, stage{s.Name, strings.Join(kinds, "+"), s.Timeout, s.Retries, s.Runner != nil})
	}
	want := []stage{
		{"wipe", "wipe", time.Minute, 0, true},
		{"write", "partition+mkfs+copy+copy+label", 2 * time.Minute, 2, true},
		{"verify", "verify", 0, 0, true},
		{"eject", "eject", 0, 0, true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
	if !p.Stages[1].Fused() || p.Stages[0].Fused() {
		t.Errorf("Fused() = %v for wipe, %v for write; want false, true", p.Stages[0].Fused(), p.Stages[1].Fused())
	}
	l := p.Write
	if l == nil {
		t.Fatal("Layout = nil")
	}
	if l.Table != "gpt" || l.PartName != "DATA" || l.FS != "exfat" || l.ClusterSize != 128<<10 {
		t.Errorf("Layout = table %q, name %q, fs %q, cluster %d; want gpt, DATA, exfat, %d", l.Table, l.PartName, l.FS, l.ClusterSize, 128<<10)
	}
	if len(l.Copies) != 2 || len(l.Copies[0].Sources) != 1 || l.Copies[0].Sources[0].Name != "docs" ||
		l.Copies[1].Destination != "extra" || len(l.Copies[1].Paths) != 1 {
		t.Errorf("Layout.Copies = %+v, want source docs, then one path into \"extra\"", l.Copies)
	}
	if !pipeline.IsSet(l.Label) {
		t.Errorf("Layout.Label is not set")
	}
	if p.Steps[0].DisplayName() != "wipe" {
		t.Errorf("DisplayName() = %q, want \"wipe\"", p.Steps[0].DisplayName())
	}
}

// TestStationDefaults: a config without a station block gets the defaults.
func TestStationDefaults(t *testing.T) {
	cfg, _ := load(t, newLoader(), "profile \"p\" {\n  step \"wipe\" {}\n}\n")
	st := cfg.Station
	if st.Name != pipeline.DefaultStationName || st.Concurrency != pipeline.DefaultConcurrency ||
		st.Grace != pipeline.DefaultGrace || st.Receipts != pipeline.DefaultReceipts ||
		len(st.AllowBuses) != 1 || st.AllowBuses[0] != "usb" {
		t.Errorf("Station = %+v, want the defaults", st)
	}
}

// TestMetaNamesNotShadowed: no step kind may declare an attribute that is
// also a meta-argument (name, timeout, retries): the meta-argument would
// take its value silently, as it once did with partition's name.
func TestMetaNamesNotShadowed(t *testing.T) {
	meta := map[string]bool{}
	for _, a := range hclAttrs(pipeline.StepMeta{}) {
		meta[a.name] = true
	}
	reg := newLoader().Registry
	for _, kind := range reg.Names() {
		for _, a := range hclAttrs(reg.Kinds[kind].New()) {
			if meta[a.name] {
				t.Errorf("step %q declares attribute %q, which is a meta-argument every step takes", kind, a.name)
			}
		}
	}
}

// TestProfileAttributes: priority and min_write_mbps reach the profile.
func TestProfileAttributes(t *testing.T) {
	cfg, diags := newLoader().LoadFiles([]string{"testdata/valid/full.hcl"})
	if diags.HasErrors() {
		t.Fatalf("LoadFiles(full.hcl):\n%s", dump(diags))
	}
	p := cfg.Profiles[0]
	if p.Name != "sandisk" || p.Priority != 10 || p.MinWriteMBps != 2.5 {
		t.Errorf("Profiles[0] = %q priority %d min_write_mbps %v, want \"sandisk\" 10 2.5", p.Name, p.Priority, p.MinWriteMBps)
	}
	if got := cfg.Station.Ports; len(got) != 2 || got[0] != "1-1.*" || got[1] != "2-1.*" {
		t.Errorf("Station.Ports = %q, want [1-1.* 2-1.*]", got)
	}
	if cfg.Profiles[1].MinWriteMBps != 0 {
		t.Errorf("Profiles[1].MinWriteMBps = %v, want 0 (not given)", cfg.Profiles[1].MinWriteMBps)
	}
}

// TestSkipContent: with SkipContent, paths that do not exist are not
// looked at (CI of a repository whose content lives on the stations), and
// everything else is still checked.
func TestSkipContent(t *testing.T) {
	file := "testdata/errors/content_paths.hcl"
	l := newLoader()
	l.SkipContent = true
	cfg, diags := l.LoadFiles([]string{file})
	if len(diags) > 0 || cfg == nil || len(cfg.Profiles) != 1 {
		t.Errorf("LoadFiles(%s) with SkipContent = %s, want one profile and no diagnostics", file, dump(diags))
	}
	l = newLoader()
	l.SkipContent = true
	_, diags = l.LoadSource("test.hcl", []byte(`source "s" {
  paths = ["nope"]
  include = ["["]
}
profile "p" {
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.s] }
  step "verify" {}
}
`))
	if len(diags) != 1 || diags[0].Summary != "Invalid glob pattern" {
		t.Errorf("LoadSource(bad glob) with SkipContent = %s, want only the glob error", dump(diags))
	}
}
