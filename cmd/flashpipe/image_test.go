package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/receipts"
)

// testImage writes a 3 MiB raw image of random bytes and its xz file into
// dir and returns both paths.
func testImage(t *testing.T, dir string) (raw, xz string) {
	t.Helper()
	testreq.Tool(t, "xz")
	data := make([]byte, 3<<20)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	raw = filepath.Join(dir, "disk.img")
	if err := os.WriteFile(raw, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("xz", "-k", "-0", raw).CombinedOutput(); err != nil {
		t.Fatalf("xz: %v: %s", err, out)
	}
	return raw, raw + ".xz"
}

// TestFlashImageFlag: flash --image writes a compressed image onto an
// image file target and verifies it, without a station file.
func TestFlashImageFlag(t *testing.T) {
	dir := t.TempDir()
	raw, xz := testImage(t, dir)
	tgt := filepath.Join(dir, "stick.img")
	code, out, errs := runCLI(t, "flash", "--image", xz, "--size", "4MiB", "--receipts", filepath.Join(dir, "r.jsonl"), tgt)
	if code != 0 {
		t.Fatalf("flash --image = %d; stderr:\n%s", code, errs)
	}
	var rc receipts.Receipt
	if err := json.Unmarshal([]byte(out), &rc); err != nil || rc.Result != receipts.ResultDone || rc.Profile != "image" {
		t.Fatalf("receipt %s (%v), want profile image, done", out, err)
	}
	want, _ := os.ReadFile(raw)
	got, _ := os.ReadFile(tgt)
	if !bytes.Equal(got[:len(want)], want) {
		t.Errorf("the target does not hold the image")
	}
	// The image cache goes beside the receipts file given, not beside the
	// default one in the current directory.
	if ids, _ := filepath.Glob(filepath.Join(dir, "image-cache", "*.json")); len(ids) != 1 {
		t.Errorf("image cache entries beside --receipts = %q, want one", ids)
	}
	if code, _, errs := runCLI(t, "flash", "--image", xz, "-c", dir, tgt); code == 0 || !strings.Contains(errs, "without -c") {
		t.Errorf("flash --image with -c = %d, %q; want a refusal", code, errs)
	}
}

// TestPlanAndValidateImageFit: plan says whether the sticks a profile
// matches hold its image, and validate refuses a profile whose match
// admits sticks too small for it.
func TestPlanAndValidateImageFit(t *testing.T) {
	dir := t.TempDir()
	_, xz := testImage(t, dir)
	code, out, errs := runCLI(t, "plan", "--image", xz)
	if code != 0 || !strings.Contains(out, "xz, image 3.1 MB (3145728 bytes)") || !strings.Contains(out, "needs sticks of at least 3.1 MB (3145728 bytes); the match admits any size") {
		t.Errorf("plan --image = %d:\n%s%s", code, out, errs)
	}
	station := filepath.Join(dir, "s.hcl")
	if err := os.WriteFile(station, []byte(`profile "small" {
  match { size = "1MB..16MB" }
  step "image" { source = "disk.img.xz" }
  step "verify" {}
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCLI(t, "validate", station)
	if code != 1 || !strings.Contains(errs, "Error: Sticks the profile matches are too small") || !strings.Contains(errs, "on "+station+" line 3") {
		t.Errorf("validate of a match admitting small sticks = %d:\n%s", code, errs)
	}
	if code, _, errs := runCLI(t, "validate", "--skip-content", station); code != 0 {
		t.Errorf("validate --skip-content = %d, want 0 (the image is not opened):\n%s", code, errs)
	}
}
