package steps

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

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

// Contribute sets the layout's label; it wins over mkfs's.
func (s *Label) Contribute(l *pipeline.Layout, c *pipeline.CheckContext) hcl.Diagnostics {
	l.Label = s.Label
	return checkStaticLabel(s.Label, l.FS, c)
}

// checkStaticLabel checks a label that does not depend on the stick (no
// device, job or now) against the filesystem's limits at load time, so a
// label that cannot be written fails in validate rather than on the first
// stick. Labels that vary per stick are checked when each job starts.
func checkStaticLabel(expr hcl.Expression, fs string, c *pipeline.CheckContext) hcl.Diagnostics {
	if !pipeline.IsSet(expr) {
		return nil
	}
	for _, tr := range expr.Variables() {
		if root := tr.RootName(); root != "var" && root != "local" {
			return nil
		}
	}
	label, diags := pipeline.EvalString(expr, c.Config.DeviceContext(nil, "", 1, time.Time{}))
	if diags.HasErrors() {
		return nil
	}
	if why := labelProblem(label, fs); why != "" {
		r := expr.Range()
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid volume label", Subject: &r,
			Detail: fmt.Sprintf("Label %q: %s.", label, why)}}
	}
	return nil
}

// labelProblem says why label cannot be fs's volume label, or "".
func labelProblem(label, fs string) string {
	switch fs {
	case "vfat":
		l := strings.TrimRight(label, " ")
		for _, r := range l {
			if r >= 0x80 || r < 0x20 || r == 0x7f || strings.ContainsRune(`"*+,./:;<=>?[\]|`, r) {
				return fmt.Sprintf("a FAT label holds printable ASCII except \"*+,./:;<=>?[\\]| only, not %q", r)
			}
		}
		if len(l) > 11 {
			return fmt.Sprintf("a FAT label holds at most 11 characters, this one has %d", len(l))
		}
	case "exfat":
		if n := len(utf16.Encode([]rune(label))); n > 11 {
			return fmt.Sprintf("an exFAT label holds at most 11 UTF-16 units, this one has %d", n)
		}
	case "ext4":
		if len(label) > 16 {
			return fmt.Sprintf("an ext4 label holds at most 16 bytes, this one has %d", len(label))
		}
	}
	return ""
}
