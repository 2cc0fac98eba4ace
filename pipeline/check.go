package pipeline

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// CheckContext is what a step sees when it is checked.
type CheckContext struct {
	Config  *Config
	Profile *Profile
	Block   *StepBlock

	skipContent bool // Loader.SkipContent
}

// DeviceExpr type-checks a per-device expression: it may refer to device,
// job, station, now, var and local. It is evaluated with unknown device
// values so that typos are caught before any stick arrives.
func (c *CheckContext) DeviceExpr(expr hcl.Expression) hcl.Diagnostics {
	return c.Config.checkDeviceExpr(expr)
}

// FileExpr type-checks a per-device expression that may also read files
// relative to the station file that declares the step (file, filebase64,
// templatefile; templates are parsed and their references checked) and
// whose value converts to want.
func (c *CheckContext) FileExpr(expr hcl.Expression, want cty.Type) hcl.Diagnostics {
	return c.Config.checkDeviceExprIn(expr, c.Dir(), want)
}

// Dir is the directory of the station file that declares the step.
func (c *CheckContext) Dir() string {
	return ResolvePaths(c.Block.DeclRange.Filename, []string{"."})[0]
}

// CheckLabel checks a per-device label expression as the loader checks a
// write stage's label (see Checking labels in docs/config.md): evaluated
// for the sticks, job numbers and times a station meets, each result
// checked with valid(fs, label), the label rules of the filesystem fs. A
// step that writes a label of its own (an image's partition) calls it.
func (c *CheckContext) CheckLabel(expr hcl.Expression, fs string, valid func(fs, label string) error) hcl.Diagnostics {
	return c.Config.checkLabel(expr, fs, valid)
}

// WriteSpec describes what the fused write stage puts on a stick: the
// partition table, the filesystem, its content and its label.
type WriteSpec struct {
	Table       string // "mbr" | "gpt" | "none"
	PartName    string
	FS          string // "vfat" | "exfat" | "ext4" | ""
	ClusterSize int    // bytes; 0 = the filesystem's default
	Label       hcl.Expression
	Copies      []*CopySpec
	Files       []*FileSpec  // files generated for each stick (step "file")
	Steps       []*StepBlock // the steps fused into this layout
}

// FileSpec is one generated file: its expressions are evaluated for each
// stick (EvalFile), in a per-device context that also reads files
// relative to Dir.
type FileSpec struct {
	Path          hcl.Expression
	Content       hcl.Expression // text; or
	ContentBase64 hcl.Expression // bytes, base64-encoded
	Mode          hcl.Expression // "0644"; optional
	Mtime         hcl.Expression // RFC 3339; optional, the job's start time when not set
	Dir           string         // directory of the station file that declares the step
}

// CopySpec is one copy step's content: sources by reference and inline paths.
type CopySpec struct {
	Sources     []*SourceBlock
	Paths       []string // absolute
	Include     []string
	Exclude     []string
	Destination string // folder inside the filesystem, "" for the root
}

// AttrRange returns the range of the step's attribute name's value, or the
// step block's header when the attribute was not written.
func (c *CheckContext) AttrRange(name string) hcl.Range {
	if c.Block == nil {
		return hcl.Range{}
	}
	if e := c.attrExpr(name); e != nil {
		return e.Range()
	}
	return c.Block.DeclRange
}

// attrExpr returns the expression of the step's attribute name, or nil.
func (c *CheckContext) attrExpr(name string) hcl.Expression {
	if c.Block == nil {
		return nil
	}
	if a, ok := c.Block.Attrs[name]; ok {
		return a.Expr
	}
	return nil
}

// ContentPaths reports each of paths, the step's attribute attr resolved,
// that does not exist; nothing when the loader skips content checks.
func (c *CheckContext) ContentPaths(attr string, paths []string) hcl.Diagnostics {
	if c.skipContent {
		return nil
	}
	return missingPaths(paths, c.attrExpr(attr))
}

// SkipContent reports whether the loader leaves out checks that look at
// the content (validate --skip-content): a step should not open its files.
func (c *CheckContext) SkipContent() bool { return c.skipContent }

// Errorf returns an error diagnostic on the step's attribute name.
func (c *CheckContext) Errorf(attr, summary, format string, args ...any) *hcl.Diagnostic {
	return errAt(c.AttrRange(attr), summary, fmt.Sprintf(format, args...))
}
