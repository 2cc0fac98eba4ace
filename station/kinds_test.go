package station

import (
	"context"
	"testing"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/hashicorp/hcl/v2"
)

// Step kinds that exist only in the station's tests: the station runs any
// kind's stage without knowing it, so these provoke what a real stage
// does rarely — a note with terminal escapes, a stage stuck in the kernel.

// noteKind is a stage that writes nothing and leaves a note.
var noteKind = pipeline.Kind{Name: "note", New: func() pipeline.Step { return &noteStep{} }, Summary: "a test kind: leaves a note"}

// noteStep decodes `step "note" { text = "..." }`.
type noteStep struct {
	Text string `hcl:"text,optional"`
}

func (n *noteStep) Check(*pipeline.CheckContext) hcl.Diagnostics { return nil }

func (n *noteStep) Run(context.Context, *pipeline.Job) (pipeline.Outcome, error) {
	return pipeline.Outcome{Note: n.Text}, nil
}

// loadTestKinds loads src with the built-in kinds and the test kinds.
func loadTestKinds(t *testing.T, src string) *pipeline.Config {
	t.Helper()
	r := steps.Builtin()
	r.Add(noteKind)
	cfg, diags := pipeline.NewLoader(r).LoadSource("kinds.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("LoadSource: %s", diags.Error())
	}
	return cfg
}
