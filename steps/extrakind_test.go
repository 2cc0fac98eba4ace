package steps_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/station"
	"github.com/flashpipe/flashpipe/status"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
)

// stampKind is a step kind that exists only in this file: a stage of its
// own that must run before the stick is wiped (as a stick probe would),
// reports a detail for the receipt and a note for the board, and writes
// nothing. Nothing in pipeline/ or station/ knows it.
var stampKind = pipeline.Kind{
	Name:    "stamp",
	New:     func() pipeline.Step { return &stamp{Word: "hello"} },
	Summary: "a test kind: says a word",
	Precedes: []pipeline.Order{{Roles: []string{"erase"},
		Why: "stamp looks at the stick as it came, so it runs before wipe."}},
}

// stamp decodes `step "stamp" { word = "..." }`.
type stamp struct {
	Word string `hcl:"word,optional"`
}

func (s *stamp) Check(c *pipeline.CheckContext) hcl.Diagnostics {
	if strings.ContainsRune(s.Word, ' ') {
		return hcl.Diagnostics{c.Errorf("word", "Invalid word", "word = %q: one word, no spaces.", s.Word)}
	}
	return nil
}

func (s *stamp) Run(ctx context.Context, j *pipeline.Job) (pipeline.Outcome, error) {
	return pipeline.Outcome{
		Details: map[string]any{"word": s.Word, "size": j.Device.Size},
		Note:    fmt.Sprintf("stamped %q on job %d", s.Word, j.Seq),
	}, nil
}

func (s *stamp) Describe(*pipeline.WriteSpec, func(hcl.Expression) string) string {
	return "say " + s.Word
}

// registryWithStamp is the built-in kinds plus stamp.
func registryWithStamp() *pipeline.Registry {
	r := steps.Builtin()
	r.Add(stampKind)
	return r
}

const stampProfile = `
source "c" { paths = [%q] }
profile "p" {
  step "stamp" { word = %q }
  step "wipe" {}
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "copy" { sources = [source.c] }
  step "verify" {}
}
`

func contentDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("alpha\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestExtraKindCompiles: the extra kind is decoded, checked with ranges,
// ordered by its own declaration and compiled into a stage of its own.
func TestExtraKindCompiles(t *testing.T) {
	content := contentDir(t)
	cfg, diags := pipeline.NewLoader(registryWithStamp()).LoadSource("t.hcl", []byte(fmt.Sprintf(stampProfile, content, "hi")))
	if diags.HasErrors() {
		t.Fatalf("LoadSource: %s", diags.Error())
	}
	var names []string
	for _, st := range cfg.Profiles[0].Stages {
		names = append(names, st.Name)
	}
	if got, want := strings.Join(names, " "), "stamp wipe write verify"; got != want {
		t.Errorf("stages = %q, want %q", got, want)
	}
	if d := cfg.Profiles[0].Stages[0].Steps[0].Step.(pipeline.Describer).Describe(nil, nil); d != "say hi" {
		t.Errorf("Describe() = %q, want %q", d, "say hi")
	}

	// Its own check, on its own attribute's range.
	_, diags = pipeline.NewLoader(registryWithStamp()).LoadSource("t.hcl", []byte(fmt.Sprintf(stampProfile, content, "two words")))
	if len(diags) != 1 || diags[0].Summary != "Invalid word" || diags[0].Subject.Start.Line != 4 {
		t.Errorf("bad word: diagnostics %v, want one Invalid word on line 4", diags)
	}

	// Its own order: after wipe it is out of order, with its own reason.
	src := strings.Replace(fmt.Sprintf(stampProfile, content, "hi"), "  step \"stamp\" { word = \"hi\" }\n  step \"wipe\" {}\n", "  step \"wipe\" {}\n  step \"stamp\" {}\n", 1)
	_, diags = pipeline.NewLoader(registryWithStamp()).LoadSource("t.hcl", []byte(src))
	if len(diags) != 1 || diags[0].Summary != "Step out of order" || !strings.Contains(diags[0].Detail, "stamp looks at the stick as it came") {
		t.Errorf("stamp after wipe: diagnostics %v, want one Step out of order with stamp's reason", diags)
	}

	// A registry without the kind does not know it, and says which kinds it knows.
	_, diags = pipeline.NewLoader(steps.Builtin()).LoadSource("t.hcl", []byte(fmt.Sprintf(stampProfile, content, "hi")))
	if !diags.HasErrors() || diags[0].Summary != "Unknown step kind" {
		t.Errorf("built-in registry: diagnostics %v, want Unknown step kind", diags)
	}
}

// TestExtraKindRunsInAStation runs the extra kind in a station job on an
// image file: its outcome reaches the receipt and the board, recorded by a
// station that knows nothing about it, and the job goes on to write and
// verify the stick.
func TestExtraKindRunsInAStation(t *testing.T) {
	dir := t.TempDir()
	cfg, diags := pipeline.NewLoader(registryWithStamp()).LoadSource("t.hcl", []byte(fmt.Sprintf(stampProfile, contentDir(t), "hi")))
	if diags.HasErrors() {
		t.Fatalf("LoadSource: %s", diags.Error())
	}
	img := filepath.Join(dir, "stick.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 40<<20); err != nil {
		t.Fatal(err)
	}
	board := status.NewBoard()
	st := station.New(station.Options{Config: cfg, Receipts: filepath.Join(dir, "r.jsonl"), Board: board, Log: hclog.NewNullLogger()})
	rc := st.Flash(context.Background(), []station.Target{{Profile: cfg.Profiles[0], Path: img}})[0]
	if rc.Result != receipts.ResultDone {
		t.Fatalf("receipt result = %q (%s), want done", rc.Result, rc.Error)
	}
	if len(rc.Steps) != 4 || rc.Steps[0].Kind != "stamp" {
		t.Fatalf("receipt steps = %+v, want stamp first of 4", rc.Steps)
	}
	s := rc.Steps[0]
	if s.Details["word"] != "hi" || s.Details["size"] != int64(40<<20) || s.Note != `stamped "hi" on job 1` {
		t.Errorf("receipt step stamp = %+v, want details word=hi size=%d and its note", s, 40<<20)
	}
	rows := board.Snapshot()
	if len(rows) != 1 || rows[0].Note != `stamped "hi" on job 1` || rows[0].State != status.StateVerified {
		t.Errorf("board = %+v, want one verified row with stamp's note", rows)
	}
}

// TestExtraKindExcludes: a kind that declares it cannot share a profile
// with the steps that lay out a filesystem gets one error per such step.
func TestExtraKindExcludes(t *testing.T) {
	whole := pipeline.Kind{
		Name: "whole", New: func() pipeline.Step { return &stamp{} }, Summary: "a test kind that writes the whole stick",
		Provides: []string{pipeline.RoleWritten},
		Excludes: []pipeline.Order{{Roles: []string{"table", "filesystem"}, Why: "whole writes its own partition table and filesystem."}},
	}
	r := steps.Builtin()
	r.Add(whole)
	_, diags := pipeline.NewLoader(r).LoadSource("t.hcl", []byte(`profile "p" {
  step "wipe" {}
  step "partition" {}
  step "mkfs" { type = "vfat" }
  step "whole" {}
  step "verify" {}
}`))
	var got []string
	for _, d := range diags {
		got = append(got, fmt.Sprintf("%d: %s", d.Subject.Start.Line, d.Summary))
	}
	want := []string{`3: Step "partition" cannot be combined with step "whole"`, `4: Step "mkfs" cannot be combined with step "whole"`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
