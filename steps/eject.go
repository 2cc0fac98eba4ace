package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
)

// ejectKind declares the eject step: the last stage, during which the
// stick leaves the bus.
var ejectKind = pipeline.Kind{
	Name:     "eject",
	New:      func() pipeline.Step { return &Eject{} },
	Summary:  "flush the stick's cache, stop it and remove it from the USB bus",
	Last:     true,
	Detaches: true,
}

// Eject decodes an eject step: flush the stick's cache (SCSI SYNCHRONIZE
// CACHE), stop it (START STOP UNIT) and remove its USB device from the
// bus, as udisks' power-off does. An image file is just closed.
//
//	step "eject" {
//	  even_if_failed = false   # eject a stick whose verification failed too
//	}
type Eject struct {
	EvenIfFailed bool `hcl:"even_if_failed,optional"`
}

var _ pipeline.Runner = (*Eject)(nil)

// Check has nothing to check.
func (e *Eject) Check(c *pipeline.CheckContext) hcl.Diagnostics { return nil }

// Run powers the stick off. The engine does not run eject after a failed
// stage unless EvenIfFailed; it checks again here so a failed verification
// can never be ejected by mistake.
func (e *Eject) Run(ctx context.Context, j *pipeline.Job) (pipeline.Outcome, error) {
	var out pipeline.Outcome
	if j.Verified != nil && !j.Verified.OK && !e.EvenIfFailed {
		return out, errors.New("eject: not ejecting a stick whose verification failed (set even_if_failed = true to eject it anyway)")
	}
	dev, err := openTarget(j)
	if err != nil {
		return out, err
	}
	if j.ImageFile() {
		return pipeline.Outcome{Note: "image file closed"}, j.Close()
	}
	err = dev.PowerOff(j.SysfsRoot)
	j.Dev = nil // closed by PowerOff
	if err != nil {
		return out, fmt.Errorf("eject %s: %w", j.Target, err)
	}
	return pipeline.Outcome{Note: "ejected: safe to pull"}, nil
}

// Describe says what the step does, for plan.
func (e *Eject) Describe(*pipeline.WriteSpec, func(hcl.Expression) string) string {
	if e.EvenIfFailed {
		return "power off and remove from the bus, even after a failed verification"
	}
	return "power off and remove from the bus (not after a failed verification)"
}

// RunsAfterFailure reports whether the engine runs this eject after a
// failed stage.
func (e *Eject) RunsAfterFailure() bool { return e.EvenIfFailed }
