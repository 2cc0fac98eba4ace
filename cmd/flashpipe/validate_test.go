package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/fsimage/imagetest"
)

const docsStation = `source "docs" {
  paths = ["content/docs"]
}

profile "p" {
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.docs] }
  step "verify" {}
}
`

// writeFile writes src to dir/name, creating folders, and returns the path.
func writeFile(t *testing.T, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runBounded is runCLI for commands that must fail before they start a
// station: should one start after all, it is stopped after a few seconds
// (and its exit code, 0, fails the test) instead of running on.
func runBounded(t *testing.T, args ...string) (code int, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb)
	return code, errb.String()
}

// TestMissingContent: a source path that does not exist is one error, on
// the path's line, naming the path once, in validate, plan and run (a
// station does not start without its content). --skip-content, for CI of
// files whose content lives on the stations, passes validate and plan.
func TestMissingContent(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "station.hcl", docsStation)
	missing := filepath.Join(dir, "content", "docs")
	for _, cmd := range []string{"validate", "plan", "run"} {
		code, errs := runBounded(t, cmd, f)
		if code != 1 || strings.Count(errs, "Error: ") != 1 || !strings.Contains(errs, "Error: Content path does not exist") ||
			!strings.Contains(errs, fmt.Sprintf("on %s line 2", f)) || strings.Count(errs, missing) != 1 || strings.Contains(errs, "Warning") {
			t.Errorf("%s with a missing source path = %d, stderr:\n%s\nwant 1 and one error on line 2 naming %s once", cmd, code, errs, missing)
		}
	}
	if code, _, errs := runCLI(t, "validate", "--strict", "--skip-content", f); code != 0 {
		t.Errorf("validate --strict --skip-content = %d, want 0; stderr:\n%s", code, errs)
	}
	if code, _, errs := runCLI(t, "plan", "--skip-content", f); code != 0 {
		t.Errorf("plan --skip-content = %d, want 0; stderr:\n%s", code, errs)
	}
	// Everything else is still checked.
	bad := writeFile(t, dir, "bad/station.hcl", strings.Replace(docsStation, `"vfat"`, `"fat33"`, 1))
	if code, _, errs := runCLI(t, "validate", "--skip-content", bad); code != 1 || !strings.Contains(errs, "Error: Invalid type") {
		t.Errorf("validate --skip-content with a bad mkfs type = %d, stderr:\n%s\nwant 1 and the type error", code, errs)
	}

	// Content that is there but cannot be copied fails validate too.
	writeFile(t, dir, "content/docs/a.txt", "a\n")
	if code, _, errs := runCLI(t, "validate", "--strict", f); code != 0 {
		t.Fatalf("validate with the content in place = %d, want 0; stderr:\n%s", code, errs)
	}
	if err := os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(missing, "dangling")); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCLI(t, "validate", f)
	if code != 1 || !strings.Contains(errs, "Error: Content cannot be read") || !strings.Contains(errs, "dangling") {
		t.Errorf("validate with a dangling symlink in the content = %d, stderr:\n%s\nwant 1 and \"Content cannot be read\"", code, errs)
	}
	if code, _, errs := runCLI(t, "validate", "--skip-content", f); code != 0 {
		t.Errorf("validate --skip-content with a dangling symlink = %d, want 0; stderr:\n%s", code, errs)
	}
}

// TestSpecialSources: a FIFO, /dev/null or /dev/zero given as content
// (-c, or a station file's source) is refused by validate, plan, build and
// run with the path and its kind, and nothing blocks on the FIFO or reads
// /dev/zero forever; -c /dev/null no longer writes an empty file called
// null. A station file that is a FIFO is refused too.
func TestSpecialSources(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	imagetest.FIFO(t, fifo)
	img := filepath.Join(dir, "x.img")
	for _, src := range []struct{ path, kind string }{{fifo, "fifo"}, {"/dev/null", "character device"}, {"/dev/zero", "character device"}} {
		for _, args := range [][]string{
			{"validate", "-c", src.path},
			{"plan", "-c", src.path},
			{"build", "-c", src.path, "--size", "64MiB", "-o", img},
		} {
			var code int
			var errs string
			imagetest.Within(t, 10*time.Second, fifo, fmt.Sprint(args), func() { code, errs = runBounded(t, args...) })
			want := src.path + " is a " + src.kind + "; a content path must name a regular file or a directory"
			if code != 1 || !strings.Contains(errs, "Error: Content path is not a file or directory") || !strings.Contains(errs, want) {
				t.Errorf("%v = %d, stderr:\n%s\nwant 1 and %q", args, code, errs, want)
			}
		}
	}
	if _, err := os.Stat(img); !os.IsNotExist(err) {
		t.Errorf("build -c of special files left %s (%v), want no image", img, err)
	}
	station := writeFile(t, dir, "fifo-source.hcl", strings.Replace(docsStation, `"content/docs"`, fmt.Sprintf("%q", fifo), 1))
	code, errs := 0, ""
	imagetest.Within(t, 10*time.Second, fifo, "run "+station, func() { code, errs = runBounded(t, "run", station) })
	if code != 1 || !strings.Contains(errs, fifo+" is a fifo") {
		t.Errorf("run with a FIFO source = %d, stderr:\n%s\nwant 1 and the FIFO named", code, errs)
	}
	imagetest.Within(t, 10*time.Second, fifo, "validate "+fifo, func() { code, errs = runBounded(t, "validate", fifo) })
	if code != 1 || !strings.Contains(errs, "Cannot read configuration file") || !strings.Contains(errs, fifo+" is a fifo, not a regular file") {
		t.Errorf("validate FIFO = %d, stderr:\n%s\nwant 1 and \"Cannot read configuration file\"", code, errs)
	}
	imagetest.Within(t, 10*time.Second, fifo, "fmt "+fifo, func() { code, errs = runBounded(t, "fmt", fifo) })
	if code != 2 || !strings.Contains(errs, fifo+" is a fifo, not a regular file") {
		t.Errorf("fmt FIFO = %d, stderr:\n%s\nwant 2 (an error reading it) and the FIFO refused", code, errs)
	}
}

// TestValidateLegacyFlags: validate takes the original tool's flags as
// plan does; problems in their values point at the flag, not at the
// generated profile.
func TestValidateLegacyFlags(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.txt", "a\n")
	code, out, errs := runCLI(t, "validate", "-c", dir, "-x", "jpg", "--label", "EXPO", "-n", "2")
	if code != 0 || out != "flags valid: the implicit profile\n" {
		t.Errorf("validate -c -x --label -n = %d, stdout %q, stderr:\n%s\nwant 0 and valid", code, out, errs)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"validate", "-c", dir, "-c", filepath.Join(dir, "nope")}, []string{"Error: Content path does not exist", "on -c line 2:\n   2: " + filepath.Join(dir, "nope")}},
		{[]string{"plan", "-c", dir, "--label", `format("%d", job.sq)`}, []string{"Error: Unknown attribute job.sq", "on --label line 1:\n   1: format"}},
		{[]string{"validate", "-c", dir, "--label", "A/B"}, []string{"Error: Invalid volume label", "on --label line 1:\n   1: A/B", `except " * + , . / : ; < = > ? [ \ ] |`}},
		{[]string{"build", "-c", dir, "--fs", "fat33", "--size", "64MiB", "-o", filepath.Join(dir, "x.img")}, []string{"Error: Invalid type", "on --fs line 1:\n   1: fat33"}},
	} {
		code, _, errs := runCLI(t, tc.args...)
		if code != 1 || strings.Contains(errs, "<command line>") {
			t.Errorf("%v = %d, stderr:\n%s\nwant 1 and no <command line> positions", tc.args, code, errs)
		}
		for _, w := range tc.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%v stderr lacks %q:\n%s", tc.args, w, errs)
			}
		}
	}
	code, out, _ = runCLI(t, "validate", "--format", "json", "-c", dir, "--label", `format("%d", job.sq)`)
	var got jsonOut
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 1 || len(got.Diagnostics) != 1 {
		t.Fatalf("validate --format json -c --label = %d, %s (%v); want 1 and one diagnostic", code, out, err)
	}
	if d := got.Diagnostics[0]; d.Filename != "--label" || d.Line != 1 || d.Column != 17 || d.EndColumn != 20 {
		t.Errorf("diagnostic at %s %d:%d-%d, want --label 1:17-20 (.sq in job.sq)", d.Filename, d.Line, d.Column, d.EndColumn)
	}
}

// TestConcurrencyFlag: -n below 1 is refused by every command that takes
// it, not turned into the default.
func TestConcurrencyFlag(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.txt", "a\n")
	for _, cmd := range []string{"validate", "plan", "run"} {
		for _, n := range []string{"-3", "0"} {
			code, errs := runBounded(t, cmd, "-c", dir, "-n", n)
			if want := "-n " + n + ": give how many sticks to write at once, 1 or more"; code != 2 || !strings.Contains(errs, want) {
				t.Errorf("%s -c -n %s = %d, stderr %q; want 2 and %q", cmd, n, code, errs, want)
			}
		}
	}
}

// TestLabelFlagRule: --label is an expression when it uses a per-device
// name or calls a function, a template when it holds ${, else the text as
// typed. plan shows which: a plain label quoted, an expression as written.
func TestLabelFlagRule(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.txt", "a\n")
	for _, tc := range []struct{ label, want string }{
		{"EXPO", `label "EXPO"`},
		{"EXPO-2026", `label "EXPO-2026"`},
		{"A(1)", `label "A(1)"`},
		{"HALL A", `label "HALL A"`},
		{`format("EXPO%03d", job.seq)`, `label format("EXPO%03d", job.seq)`},
		{`upper("expo")`, `label upper("expo")`},
		{`device.serial != "" ? device.serial : "NOSERIAL"`, `label device.serial != "" ? device.serial : "NOSERIAL"`},
		{`EXPO-${job.seq}`, `label "EXPO-${job.seq}"`},
	} {
		code, out, errs := runCLI(t, "plan", "-c", dir, "--label", tc.label)
		if code != 0 || !strings.Contains(out, tc.want+"\n") {
			t.Errorf("plan --label %s = %d, stdout:\n%s\nstderr:\n%s\nwant 0 and %q", tc.label, code, out, errs, tc.want)
		}
	}
	code, _, errs := runCLI(t, "plan", "-c", dir, "--label", "EXPO${job.seq")
	if code != 2 || !strings.Contains(errs, "--label EXPO${job.seq: a label with ${ is a template") {
		t.Errorf("plan --label with a broken template = %d, stderr %q; want 2 and the flag named", code, errs)
	}
}
