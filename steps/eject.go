package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
)

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
func (e *Eject) Run(ctx context.Context, j *pipeline.Job) error {
	if j.Verified != nil && !j.Verified.OK && !e.EvenIfFailed {
		return errors.New("eject: not ejecting a stick whose verification failed (set even_if_failed = true to eject it anyway)")
	}
	dev, err := openTarget(j)
	if err != nil {
		return err
	}
	if j.ImageFile() {
		return j.Close()
	}
	err = dev.PowerOff(j.SysfsRoot)
	j.Handle = nil // closed by PowerOff
	if err != nil {
		return fmt.Errorf("eject %s: %w", j.Target, err)
	}
	return nil
}

// RunsAfterFailure reports whether the engine runs this eject after a
// failed stage.
func (e *Eject) RunsAfterFailure() bool { return e.EvenIfFailed }
