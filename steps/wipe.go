package steps

import (
	"context"

	"github.com/flashpipe/flashpipe/executor"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
)

// wipeKind declares the wipe step: a stage of its own, before every step
// that writes.
var wipeKind = pipeline.Kind{
	Name:     "wipe",
	New:      func() pipeline.Step { return &Wipe{Mode: "quick"} },
	Summary:  "clear old partition tables and filesystem signatures, or zero or discard the whole stick",
	Provides: []string{"erase"},
	Precedes: []pipeline.Order{{Roles: []string{pipeline.RoleWritten},
		Why: "wipe erases the stick, so it comes before every step that writes to it."}},
}

// Wipe decodes a wipe step.
//
//	step "wipe" {
//	  mode = "quick"   # "quick" (default): old partition tables at both ends and
//	                   # filesystem signatures; "zero": the whole stick;
//	                   # "discard": TRIM the whole stick; "none"
//	}
type Wipe struct {
	Mode string `hcl:"mode,optional"`
}

var _ pipeline.Runner = (*Wipe)(nil)

// Check validates the mode.
func (w *Wipe) Check(c *pipeline.CheckContext) hcl.Diagnostics {
	return checkEnum(c, "mode", w.Mode, "quick", "zero", "discard", "none")
}

// Run wipes the job's target.
func (w *Wipe) Run(ctx context.Context, j *pipeline.Job) (pipeline.Outcome, error) {
	out := pipeline.Outcome{Details: map[string]any{"mode": w.Mode}}
	if w.Mode == "none" {
		return out, nil
	}
	dev, err := openTarget(j)
	if err != nil {
		return out, err
	}
	return out, executor.Wipe(ctx, dev, w.Mode, j.Usable, progress(j)) // its errors name the step and the device
}

// Describe says what the step does, for plan.
func (w *Wipe) Describe(*pipeline.WriteSpec, func(hcl.Expression) string) string {
	return "mode " + w.Mode
}
