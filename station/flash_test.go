package station

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/hashicorp/go-hclog"
)

// TestFlashNumbersJobsInOrder: Flash numbers its jobs in the order of its
// targets, on the board and in the receipts it returns, although the jobs
// run at once and finish in any order; an image file's board row names it
// by its file name, its receipt by its path.
func TestFlashNumbersJobsInOrder(t *testing.T) {
	cfg, diags := pipeline.NewLoader(steps.Builtin()).LoadSource("t.hcl", []byte(`
profile "p" {
  step "partition" { table = "none" }
  step "mkfs" { type = "exfat" }
  step "verify" {}
}`))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	dir := t.TempDir()
	var targets []Target
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		path := filepath.Join(dir, n+".img")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, 8<<20); err != nil {
			t.Fatal(err)
		}
		targets = append(targets, Target{Profile: cfg.Profiles[0], Path: path})
	}
	board := status.NewBoard()
	st := New(Options{Config: cfg, Receipts: filepath.Join(dir, "r.jsonl"), Board: board, Concurrency: len(targets), Log: hclog.NewNullLogger()})
	rs := st.Flash(context.Background(), targets)
	rows := map[int]string{}
	for _, j := range board.Snapshot() {
		rows[j.ID] = j.Device
	}
	for i, r := range rs {
		if r.Job != i+1 || r.Device.Name != targets[i].Path || r.Result != "done" {
			t.Errorf("receipt %d = job %d on %s, %s %s; want job %d on %s, done", i, r.Job, r.Device.Name, r.Result, r.Error, i+1, targets[i].Path)
		}
		if want := filepath.Base(targets[i].Path); rows[i+1] != want {
			t.Errorf("board row %d = %q, want %q", i+1, rows[i+1], want)
		}
	}
}
