package steps

import (
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
)

// labelKind declares the label step: fused into the write stage, anywhere
// after the mkfs whose volume it labels.
var labelKind = pipeline.Kind{
	Name:     "label",
	New:      func() pipeline.Step { return &Label{} },
	Summary:  "set a per-stick volume label from an expression",
	Fused:    true,
	Provides: []string{"label", pipeline.RoleWritten},
	Requires: []pipeline.Order{needsFilesystem(`label needs a filesystem: add step "mkfs" before it.`)},
}

// Label decodes a label step. The label is part of the write plan (FAT
// boot sector and volume entry, exFAT volume entry, ext4 superblock), so
// verification covers it.
//
//	step "label" {
//	  label = upper(format("EXPO%03d", job.seq))
//	}
type Label struct {
	Label hcl.Expression `hcl:"label"`
}

var _ pipeline.Contributor = (*Label)(nil)

// Check type-checks the label expression with an unknown device.
func (s *Label) Check(c *pipeline.CheckContext) hcl.Diagnostics {
	return c.DeviceExpr(s.Label)
}

// Contribute sets the write's label; it wins over mkfs's. The loader
// checks it against the filesystem's label rules (Builtin's LabelRules).
func (s *Label) Contribute(w *pipeline.WriteSpec, c *pipeline.CheckContext) hcl.Diagnostics {
	w.Label = s.Label
	return nil
}

// Describe says what the step does, for plan.
func (s *Label) Describe(_ *pipeline.WriteSpec, src func(hcl.Expression) string) string {
	return "label " + src(s.Label)
}
