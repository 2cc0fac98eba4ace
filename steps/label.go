package steps

import (
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
)

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

// Contribute sets the layout's label; it wins over mkfs's. The loader
// checks it against the filesystem's label rules (Builtin's LabelRules).
func (s *Label) Contribute(l *pipeline.WriteSpec, c *pipeline.CheckContext) hcl.Diagnostics {
	l.Label = s.Label
	return nil
}
