package steps

import (
	"unicode/utf16"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
)

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
	if p.Table == "" {
		p.Table = "mbr"
	}
	diags := checkEnum(c, "table", p.Table, "mbr", "gpt", "none")
	if p.Name != "" && p.Table != "gpt" {
		diags = append(diags, c.Errorf("partition_name", "Partition name needs GPT", "Only GPT partitions have names; set table = \"gpt\" or remove partition_name."))
	}
	if n := len(utf16.Encode([]rune(p.Name))); n > 36 {
		diags = append(diags, c.Errorf("partition_name", "Partition name too long", "A GPT partition name holds at most 36 UTF-16 units; this one has %d.", n))
	}
	return diags
}

// Contribute sets the layout's partition table.
func (p *Partition) Contribute(l *pipeline.WriteSpec, c *pipeline.CheckContext) hcl.Diagnostics {
	l.Table, l.PartName = p.Table, p.Name
	return nil
}
