package steps

import (
	"context"

	"github.com/flashpipe/flashpipe/executor"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
)

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
	if w.Mode == "" {
		w.Mode = "quick"
	}
	return checkEnum(c, "mode", w.Mode, "quick", "zero", "discard", "none")
}

// Run wipes the job's target.
func (w *Wipe) Run(ctx context.Context, j *pipeline.Job) error {
	if w.Mode == "none" {
		return nil
	}
	dev, err := openTarget(j)
	if err != nil {
		return err
	}
	return executor.Wipe(ctx, dev, w.Mode, progress(j)) // its errors name the step and the device
}
