package steps

import (
	"fmt"
	"unicode/utf16"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
)

// partitionKind declares the partition step: fused into the write stage,
// it gives mkfs the partition its filesystem goes into.
var partitionKind = pipeline.Kind{
	Name:     "partition",
	New:      func() pipeline.Step { return &Partition{Table: "mbr"} },
	Summary:  "write an MBR or GPT partition table, or none (superfloppy)",
	Fused:    true,
	Provides: []string{"table", pipeline.RoleWritten},
	Precedes: []pipeline.Order{writesBeforeVerify},
}

// writesBeforeVerify is the rule of the steps that write: they come before the
// verify step that reads them back.
var writesBeforeVerify = pipeline.Order{Roles: []string{pipeline.RoleVerified},
	Why: "verify reads back what the steps before it wrote, so the steps that write come first."}

// Partition decodes a partition step; it is fused into the write stage.
//
//	step "partition" {
//	  table          = "gpt"      # "mbr" (default), "gpt", or "none" for a superfloppy
//	  partition_name = "CONTENT"  # GPT partition name
//	}
//
// The GPT name is partition_name, not name: name is the meta-argument every
// step takes (its name in logs and receipts).
type Partition struct {
	Table string `hcl:"table,optional"`
	Name  string `hcl:"partition_name,optional"`
}

var _ pipeline.Contributor = (*Partition)(nil)

// Check validates the table type and the partition name.
func (p *Partition) Check(c *pipeline.CheckContext) hcl.Diagnostics {
	diags := checkEnum(c, "table", p.Table, "mbr", "gpt", "none")
	if p.Name != "" && p.Table != "gpt" {
		diags = append(diags, c.Errorf("partition_name", "Partition name needs GPT", "Only GPT partitions have names; set table = \"gpt\" or remove partition_name."))
	}
	if n := len(utf16.Encode([]rune(p.Name))); n > 36 {
		diags = append(diags, c.Errorf("partition_name", "Partition name too long", "A GPT partition name holds at most 36 UTF-16 units; this one has %d.", n))
	}
	return diags
}

// Contribute sets the write's partition table.
func (p *Partition) Contribute(w *pipeline.WriteSpec, c *pipeline.CheckContext) hcl.Diagnostics {
	w.Table, w.PartName = p.Table, p.Name
	return nil
}

// Describe says what the step does, for plan.
func (p *Partition) Describe(*pipeline.WriteSpec, func(hcl.Expression) string) string {
	d := "table " + p.Table
	if p.Name != "" {
		d += fmt.Sprintf(", name %q", p.Name)
	}
	return d
}
