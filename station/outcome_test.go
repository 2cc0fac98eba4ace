package station

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/hashicorp/go-hclog"
)

// TestOutcomeNamesWhatWasDone runs one profile with a verify step and one
// without on image files, and checks that every record of the job — the
// receipt, the board, the log line and the station's summary — calls only
// the read-back stick done, and the other written but not verified.
func TestOutcomeNamesWhatWasDone(t *testing.T) {
	dir := t.TempDir()
	content := filepath.Join(dir, "content")
	if err := os.MkdirAll(content, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(content, "a.txt"), []byte("alpha\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`
source "c" { paths = [%q] }
profile "checked" {
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.c] }
  step "verify" {}
}
profile "unchecked" {
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.c] }
}
`, content)
	cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadSource("outcome.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("LoadSource: %s", diags.Error())
	}
	var logs bytes.Buffer
	board := status.NewBoard()
	rpath := filepath.Join(dir, "receipts.jsonl")
	st := New(Options{Config: cfg, Receipts: rpath, Board: board, Concurrency: 2,
		Log: hclog.New(&hclog.LoggerOptions{Output: &syncWriter{w: &logs}})})

	want := map[string]struct {
		result receipts.Result
		state  status.State
		log    string
	}{
		"checked":   {receipts.ResultDone, status.StateVerified, "done: written and verified"},
		"unchecked": {receipts.ResultUnverified, status.StateUnverified, "written, not verified"},
	}
	for _, p := range cfg.Profiles {
		img := filepath.Join(dir, p.Name+".img")
		if err := os.WriteFile(img, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, 40<<20); err != nil {
			t.Fatal(err)
		}
		rc := st.Flash(context.Background(), []Target{{Profile: p, Path: img}})[0]
		w := want[p.Name]
		if rc.Result != w.result {
			t.Errorf("profile %s: receipt result = %q (error %q), want %q", p.Name, rc.Result, rc.Error, w.result)
		}
		if rc.DiskIDs == nil || rc.DiskIDs.MBRSignature == "" || rc.DiskIDs.VolumeID == "" {
			t.Errorf("profile %s: receipt disk_ids = %+v, want the MBR signature and volume id", p.Name, rc.DiskIDs)
		}
		if rc.BytesWritten == 0 {
			t.Errorf("profile %s: receipt bytes_written = 0, want the plan's bytes", p.Name)
		}
		if (rc.Verify != nil) != (w.result == receipts.ResultDone) {
			t.Errorf("profile %s: receipt verify = %+v, want one only for the profile that verifies", p.Name, rc.Verify)
		}
	}
	for _, j := range board.Snapshot() {
		if w := want[j.Profile]; j.State != w.state {
			t.Errorf("board: profile %s ended %q, want %q", j.Profile, j.State, w.state)
		}
		line := status.LogLine(j)
		if j.Profile == "unchecked" && (strings.Contains(line, ": verified") || !strings.Contains(line, ": unverified (") || !strings.Contains(line, "not read back")) {
			t.Errorf("board log line of the unverified stick = %q, want it to say not read back", line)
		}
	}
	for name, w := range want {
		found := false
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, " "+name+".img: ") && strings.Contains(l, w.log) {
				found = true
			}
		}
		if !found {
			t.Errorf("no log line %q for profile %s in:\n%s", w.log, name, logs.String())
		}
	}
	rs := readReceiptsFile(t, rpath)
	got := map[receipts.Result]int{}
	for _, r := range rs {
		got[r.Result]++
	}
	if got[receipts.ResultDone] != 1 || got[receipts.ResultUnverified] != 1 || len(rs) != 2 {
		t.Errorf("receipts file results = %v, want one done and one unverified", got)
	}
	st.mu.Lock()
	sum := st.counts
	st.mu.Unlock()
	if sum.Done != 1 || sum.Unverified != 1 || !strings.Contains(sum.String(), "1 unverified") {
		t.Errorf("summary = %s, want 1 done and 1 unverified", sum)
	}
}
