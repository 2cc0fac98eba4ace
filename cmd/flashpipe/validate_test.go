package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const docsStation = `source "docs" {
  paths = ["content/docs"]
}

profile "p" {
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.docs] }
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
