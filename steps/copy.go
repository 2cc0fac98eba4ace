package steps

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
)

// copyKind declares the copy step: fused into the write stage, it may
// appear several times, each after mkfs.
var copyKind = pipeline.Kind{
	Name:     "copy",
	New:      func() pipeline.Step { return &Copy{} },
	Summary:  "put content from sources and paths into the filesystem",
	Repeat:   true,
	Fused:    true,
	Provides: []string{"content", pipeline.RoleWritten},
	Requires: []pipeline.Order{needsFilesystem(`copy needs a filesystem: add step "mkfs" { type = "vfat" } before it.`)},
	Precedes: []pipeline.Order{writesBeforeVerify},
	Edits:    copyEdits,
}

// Copy decodes a copy step; it is fused into the write stage, or, with
// partition, edits the image an image step writes (imagefile.go). Content comes
// from source blocks by reference and from inline paths (relative to the
// file that declares the step); include and exclude add to each source's
// own patterns.
//
//	step "copy" {
//	  sources     = [source.docs, source.videos]
//	  paths       = ["extra/flyer.pdf"]
//	  exclude     = ["**/*.jpg"]
//	  destination = "/event"
//	  partition   = 1          # only after step "image": into this partition of the image
//	}
type Copy struct {
	Sources     hcl.Expression `hcl:"sources,optional"`
	Paths       []string       `hcl:"paths,optional"`
	Include     []string       `hcl:"include,optional"`
	Exclude     []string       `hcl:"exclude,optional"`
	Destination string         `hcl:"destination,optional"`
	Partition   *int           `hcl:"partition,optional"`

	resolved    []*pipeline.SourceBlock
	contributed *pipeline.CopySpec // what Contribute added to the write
}

var _ pipeline.Contributor = (*Copy)(nil)

// Check resolves source references and validates patterns and the
// destination.
func (s *Copy) Check(c *pipeline.CheckContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if pipeline.IsSet(s.Sources) {
		refs, d := sourceRefs(s.Sources, c.Config)
		diags = append(diags, d...)
		s.resolved = refs
	}
	if len(s.resolved) == 0 && len(s.Paths) == 0 && !diags.HasErrors() {
		diags = append(diags, c.Errorf("sources", "Nothing to copy", "A copy step needs sources = [source.NAME, ...] or paths = [...]."))
	}
	for _, attr := range []struct {
		name     string
		patterns []string
	}{{"include", s.Include}, {"exclude", s.Exclude}} {
		for _, p := range attr.patterns {
			if err := pipeline.CheckGlob(p); err != nil {
				diags = append(diags, c.Errorf(attr.name, "Invalid glob pattern", "%s. Patterns use doublestar syntax, e.g. \"**/*.jpg\".", err))
			}
		}
	}
	if strings.Contains(s.Destination, "\\") || strings.Contains(s.Destination, "..") {
		diags = append(diags, c.Errorf("destination", "Invalid destination", "destination = %q: use a folder path with forward slashes inside the filesystem, such as \"/event/docs\".", s.Destination))
	}
	if s.Partition != nil {
		img, d := imagePartition(c, *s.Partition)
		diags = append(diags, d...)
		if img != nil {
			img.copies = append(img.copies, s)
		}
	}
	return diags
}

// sourceRefs resolves source.NAME references in a list expression.
func sourceRefs(expr hcl.Expression, cfg *pipeline.Config) ([]*pipeline.SourceBlock, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	items, d := hcl.ExprList(expr)
	if d.HasErrors() {
		r := expr.Range()
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid sources", Subject: &r,
			Detail: "sources takes a list of source references: sources = [source.docs, source.media]."}}
	}
	names := make([]string, 0, len(cfg.Sources))
	for n := range cfg.Sources {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*pipeline.SourceBlock
	for _, item := range items {
		r := item.Range()
		tr, d := hcl.AbsTraversalForExpr(item)
		if d.HasErrors() || len(tr) != 2 || tr.RootName() != "source" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid source reference", Subject: &r,
				Detail: "Each element of sources is a reference such as source.docs, naming a source block."})
			continue
		}
		attr, ok := tr[1].(hcl.TraverseAttr)
		if !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid source reference", Subject: &r,
				Detail: "Each element of sources is a reference such as source.docs, naming a source block."})
			continue
		}
		src, ok := cfg.Sources[attr.Name]
		if !ok {
			detail := fmt.Sprintf("There is no source block named %q.%s", attr.Name, pipeline.DidYouMean(attr.Name, names))
			if len(names) > 0 {
				detail += " Declared sources: " + strings.Join(names, ", ") + "."
			} else {
				detail += ` Declare one: source "` + attr.Name + `" { paths = ["content"] }.`
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to undeclared source", Subject: &r, Detail: detail})
			continue
		}
		out = append(out, src)
	}
	return out, diags
}

// Contribute adds this step's content to the write: its folder inside the
// filesystem is Destination cleaned, without leading or trailing slashes.
func (s *Copy) Contribute(w *pipeline.WriteSpec, c *pipeline.CheckContext) hcl.Diagnostics {
	var paths []string
	if len(s.Paths) > 0 {
		paths = pipeline.ResolvePaths(c.Block.DeclRange.Filename, s.Paths)
	}
	s.contributed = &pipeline.CopySpec{
		Sources: s.resolved, Paths: paths, Include: s.Include, Exclude: s.Exclude,
		Destination: strings.Trim(path.Clean("/"+s.Destination), "/"),
	}
	w.Copies = append(w.Copies, s.contributed)
	return c.ContentPaths("paths", paths)
}

// Describe says what the step does, for plan: each source's paths and
// patterns, and the folder they go to.
func (s *Copy) Describe(*pipeline.WriteSpec, func(hcl.Expression) string) string {
	if s.contributed == nil {
		return ""
	}
	var parts []string
	for _, src := range Sources(&pipeline.WriteSpec{Copies: []*pipeline.CopySpec{s.contributed}}) {
		p := strings.Join(src.Paths, ", ")
		if len(src.Include) > 0 {
			p += " include " + strings.Join(src.Include, " ")
		}
		if len(src.Exclude) > 0 {
			p += " exclude " + strings.Join(src.Exclude, " ")
		}
		parts = append(parts, p)
	}
	d := strings.Join(parts, "; ") + " -> /" + s.contributed.Destination
	if s.Partition != nil {
		d += fmt.Sprintf(", into partition %d of the image", *s.Partition)
	}
	return d
}
