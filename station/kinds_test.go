package station

import (
	"context"
	"sync"
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

// gateKind is a stage that writes nothing and waits until the test opens
// its gate, or until its context ends (a stage that honours cancellation).
var gateKind = pipeline.Kind{Name: "gate", New: func() pipeline.Step { return &gateStep{} }, Summary: "a test kind: waits for the test"}

// gateStep decodes `step "gate" { gate = "NAME" }`.
type gateStep struct {
	Gate string `hcl:"gate"`
}

func (g *gateStep) Check(*pipeline.CheckContext) hcl.Diagnostics { return nil }

func (g *gateStep) Run(ctx context.Context, j *pipeline.Job) (pipeline.Outcome, error) {
	select {
	case <-gate(g.Gate):
		return pipeline.Outcome{}, nil
	case <-ctx.Done():
		return pipeline.Outcome{}, ctx.Err()
	}
}

// hangKind is a stage stuck where no cancellation reaches it, as a write
// to a stick that stopped answering is held in the kernel: it waits for
// its gate whatever its context says. It registers a closer with the job
// (as opening the device does) that closes the gate's name + "/closed".
var hangKind = pipeline.Kind{Name: "hang", New: func() pipeline.Step { return &hangStep{} }, Summary: "a test kind: stuck until the test lets it go"}

// hangStep decodes `step "hang" { gate = "NAME" }`.
type hangStep struct {
	Gate string `hcl:"gate"`
}

func (h *hangStep) Check(*pipeline.CheckContext) hcl.Diagnostics { return nil }

func (h *hangStep) Run(ctx context.Context, j *pipeline.Job) (pipeline.Outcome, error) {
	j.Closers = append(j.Closers, func() error { close(gate(h.Gate + "/closed")); return nil })
	<-gate(h.Gate)
	return pipeline.Outcome{}, ctx.Err()
}

// gates are the test kinds' gates by name; a test closes one to let its
// stages go on.
var gates = struct {
	sync.Mutex
	m map[string]chan struct{}
}{m: map[string]chan struct{}{}}

// gate returns the gate called name, making it on first use.
func gate(name string) chan struct{} {
	gates.Lock()
	defer gates.Unlock()
	ch := gates.m[name]
	if ch == nil {
		ch = make(chan struct{})
		gates.m[name] = ch
	}
	return ch
}

// loadTestKinds loads src with the built-in kinds and the test kinds.
func loadTestKinds(t *testing.T, src string) *pipeline.Config {
	t.Helper()
	r := steps.Builtin()
	r.Add(noteKind)
	r.Add(gateKind)
	r.Add(hangKind)
	cfg, diags := pipeline.NewLoader(r).LoadSource("kinds.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("LoadSource: %s", diags.Error())
	}
	return cfg
}
