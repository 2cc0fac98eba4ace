package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/internal/testreq"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/units"
)

// TestDemo runs `flashpipe demo` as a newcomer would: two virtual sticks
// verified, the too-small one failed with the bytes it lacks, three
// receipts, and a FAT image whose label and files mtools can read.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--dir", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("flashpipe demo = exit %d, want 0; stderr:\n%s", code, stderr.String())
	}
	f, err := os.Open(filepath.Join(dir, "receipts.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, bad, err := receipts.Read(f)
	if err != nil || bad != 0 || len(rs) != 3 {
		t.Fatalf("receipts.Read = %d receipts, %d bad, %v; want 3, 0, nil", len(rs), bad, err)
	}
	results := map[string]receipts.Receipt{}
	for _, r := range rs {
		results[filepath.Base(r.Device.Name)] = r
	}
	for _, name := range []string{"stick1-fat32.img", "stick2-exfat.img"} {
		if r := results[name]; r.Result != "done" || r.Verify == nil || !r.Verify.OK {
			t.Errorf("%s: result %q verify %+v, want done and verified", name, r.Result, r.Verify)
		}
	}
	small := results["stick3-too-small.img"]
	if small.Result != "failed" || small.FailedStep != "write" || !strings.Contains(small.Error, "does not fit") || small.BytesWritten != 0 {
		t.Errorf("too-small stick: result %q step %q error %q written %d; want failed in write, does not fit, nothing written",
			small.Result, small.FailedStep, small.Error, small.BytesWritten)
	}
	if !strings.Contains(stdout.String(), "mdir -i") {
		t.Errorf("demo output does not say how to look inside:\n%s", stdout.String())
	}
	checkDemoReport(t, dir, stdout.String(), rs)
	testreq.Tool(t, "mdir") // to look inside the image
	cmd := exec.Command("mdir", "-i", filepath.Join(dir, "stick1-fat32.img")+"@@1M", "::/")
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mdir: %v: %s", err, out)
	}
	for _, want := range []string{results["stick1-fat32.img"].Label, "README", "docs", "media"} {
		if want == "" || !strings.Contains(string(out), want) {
			t.Errorf("mdir of stick1 lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "scratch") {
		t.Errorf("mdir of stick1 shows the excluded scratch.tmp:\n%s", out)
	}
}

// checkDemoReport checks what the demo tells a newcomer: its station file
// is in its folder and `flashpipe plan` of it (the command it prints)
// works; jobs are numbered in stick order, each stick in its own virtual
// port; the log and the receipt summary give the same amount written, in
// the same units; the planning step has a name a person understands.
func checkDemoReport(t *testing.T, dir, out string, rs []receipts.Receipt) {
	t.Helper()
	cfg := filepath.Join(dir, "demo.hcl")
	if !strings.Contains(out, "flashpipe plan "+cfg+"\n") {
		t.Errorf("demo output does not print `flashpipe plan %s`:\n%s", cfg, out)
	}
	if code, plan, errs := runCLI(t, "plan", cfg); code != 0 || !strings.Contains(plan, `profile "exfat"`) {
		t.Errorf("flashpipe plan %s = exit %d:\n%s%s", cfg, code, plan, errs)
	}
	for i, name := range []string{"stick1-fat32.img", "stick2-exfat.img", "stick3-too-small.img"} {
		var r *receipts.Receipt
		for k := range rs {
			if filepath.Base(rs[k].Device.Name) == name {
				r = &rs[k]
			}
		}
		if r == nil {
			t.Fatalf("no receipt for %s", name)
		}
		if port := fmt.Sprintf("demo-%d", i+1); r.Job != i+1 || r.Device.Port != port {
			t.Errorf("%s: job %d in port %q, want job %d in port %q", name, r.Job, r.Device.Port, i+1, port)
		}
		if r.Result != "done" {
			continue
		}
		written := units.Bytes(r.BytesWritten)
		for _, want := range []string{
			fmt.Sprintf("job %d port demo-%d %s profile %s: verified (%s written", r.Job, i+1, name, r.Profile, written),
			fmt.Sprintf("job %d  demo-%d  %s", r.Job, i+1, name),
			"wrote " + written + ", verified " + units.Bytes(r.BytesVerified),
		} {
			if !strings.Contains(out, want) {
				t.Errorf("demo output lacks %q:\n%s", want, out)
			}
		}
	}
	if !strings.Contains(out, "running in plan") || strings.Contains(out, "prepare") {
		t.Errorf("demo output: want the planning step called \"plan\", not \"prepare\":\n%s", out)
	}
}
