package steps

import (
	"encoding/base64"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// fileKind declares the file step: fused into the write stage, it may
// appear several times, each after mkfs.
var fileKind = pipeline.Kind{
	Name:     "file",
	New:      func() pipeline.Step { return &File{} },
	Summary:  "write a file generated for each stick (a licence key, a README naming its serial)",
	Repeat:   true,
	Fused:    true,
	Provides: []string{"content", pipeline.RoleWritten},
	Requires: []pipeline.Order{needsFilesystem(`file needs a filesystem: add step "mkfs" { type = "vfat" } before it.`)},
	Precedes: []pipeline.Order{writesBeforeVerify},
	Edits:    fileEdits,
}

// File decodes a file step; it is fused into the write stage, or, with
// partition, edits the image an image step writes (imagefile.go). Path
// and content are per-device expressions, evaluated once for each stick
// before anything is written to it.
//
//	step "file" {
//	  path      = "/licence.txt"
//	  content   = "${pool.keys.row.key}\n"   # or content_base64 = filebase64("logo.png")
//	  mode      = "0444"                      # optional
//	  mtime     = "2026-05-01T12:00:00Z"      # optional: the job's start time
//	  partition = 1                           # only after step "image": into this partition of the image
//	}
type File struct {
	Path          hcl.Expression `hcl:"path"`
	Content       hcl.Expression `hcl:"content,optional"`
	ContentBase64 hcl.Expression `hcl:"content_base64,optional"`
	Mode          hcl.Expression `hcl:"mode,optional"`
	Mtime         hcl.Expression `hcl:"mtime,optional"`
	Partition     *int           `hcl:"partition,optional"`

	spec *pipeline.FileSpec
}

var _ pipeline.Contributor = (*File)(nil)

// Check type-checks every expression with an unknown device, parses the
// templates they read, and checks a path or mode that is known before a
// stick arrives.
func (s *File) Check(c *pipeline.CheckContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	switch set, set64 := pipeline.IsSet(s.Content), pipeline.IsSet(s.ContentBase64); {
	case set && set64:
		diags = append(diags, c.Errorf("content_base64", "Two contents", "A file step has content (text) or content_base64 (bytes, base64-encoded), not both."))
	case !set && !set64:
		diags = append(diags, c.Errorf("content", "File without content", `A file step needs content = "..." (text, e.g. templatefile("readme.tmpl", {})) or content_base64 = filebase64("logo.png").`))
	}
	for _, e := range []hcl.Expression{s.Path, s.Content, s.ContentBase64, s.Mode, s.Mtime} {
		if pipeline.IsSet(e) {
			diags = append(diags, c.FileExpr(e, cty.String)...)
		}
	}
	// Literal values are checked now, as the station would at each stick.
	if v, ok := literal(s.Path); ok {
		if _, err := FilePath(v); err != nil {
			diags = append(diags, c.Errorf("path", "Invalid path", "%s.", err))
		}
	}
	if v, ok := literal(s.Mode); ok {
		if _, err := FileMode(v); err != nil {
			diags = append(diags, c.Errorf("mode", "Invalid mode", "%s.", err))
		}
	}
	if v, ok := literal(s.Mtime); ok {
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			diags = append(diags, c.Errorf("mtime", "Invalid mtime", "mtime = %q: use an RFC 3339 time such as \"2026-05-01T12:00:00Z\".", v))
		}
	}
	if s.Partition != nil {
		img, d := imagePartition(c, *s.Partition)
		diags = append(diags, d...)
		if img != nil {
			img.files = append(img.files, s)
		}
	}
	return diags
}

// literal returns an optional expression's value when it refers to
// nothing and calls nothing that depends on the stick.
func literal(e hcl.Expression) (string, bool) {
	if !pipeline.IsSet(e) || len(e.Variables()) > 0 {
		return "", false
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// FilePath cleans a generated file's path: slash-separated inside the
// filesystem, relative to its root, no "..", not the root itself.
func FilePath(p string) (string, error) {
	if strings.Contains(p, "\\") {
		return "", fmt.Errorf("path %q: use forward slashes, as in \"/docs/readme.txt\"", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", fmt.Errorf("path %q: \"..\" leaves the filesystem; give a path inside it, as in \"/docs/readme.txt\"", p)
		}
	}
	clean := strings.Trim(path.Clean("/"+p), "/")
	if clean == "" {
		return "", fmt.Errorf("path %q names the root folder, not a file", p)
	}
	return clean, nil
}

// FileMode parses a generated file's mode: octal permission bits, "0644".
func FileMode(s string) (fs.FileMode, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("mode %q: use octal permission bits such as \"0644\" or \"0444\"", s)
	}
	return fs.FileMode(m), nil
}

// Contribute adds the step's file to the write.
func (s *File) Contribute(w *pipeline.WriteSpec, c *pipeline.CheckContext) hcl.Diagnostics {
	s.spec = &pipeline.FileSpec{Path: s.Path, Content: s.Content, ContentBase64: s.ContentBase64, Mode: s.Mode, Mtime: s.Mtime, Dir: c.Dir()}
	w.Files = append(w.Files, s.spec)
	return nil
}

// Describe says what the step does, for plan.
func (s *File) Describe(_ *pipeline.WriteSpec, src func(hcl.Expression) string) string {
	content := src(s.Content)
	if pipeline.IsSet(s.ContentBase64) {
		content = "base64 " + src(s.ContentBase64)
	}
	if s.Partition != nil {
		return fmt.Sprintf("%s = %s, into partition %d of the image", src(s.Path), content, *s.Partition)
	}
	return src(s.Path) + " = " + content
}

// GeneratedFile is one file made for a stick: its path inside the
// filesystem and its bytes.
type GeneratedFile struct {
	Path    string
	Data    []byte
	Mode    fs.FileMode
	ModTime time.Time
}

// EvalFile evaluates a file step for one stick in ctx, the job's context
// with the file functions of the step's folder (pipeline.WithFiles with
// f.Dir).
func EvalFile(f *pipeline.FileSpec, ctx *hcl.EvalContext, now time.Time) (GeneratedFile, error) {
	eval := func(e hcl.Expression) (string, error) {
		v, diags := pipeline.EvalString(e, ctx)
		if diags.HasErrors() {
			return "", fmt.Errorf("%s", diags.Error())
		}
		return v, nil
	}
	p, err := eval(f.Path)
	if err != nil {
		return GeneratedFile{}, fmt.Errorf("file path: %w", err)
	}
	g := GeneratedFile{Mode: 0o644, ModTime: now}
	if g.Path, err = FilePath(p); err != nil {
		return g, err
	}
	if pipeline.IsSet(f.ContentBase64) {
		s, err := eval(f.ContentBase64)
		if err != nil {
			return g, fmt.Errorf("file %s: %w", g.Path, err)
		}
		if g.Data, err = base64.StdEncoding.DecodeString(s); err != nil {
			return g, fmt.Errorf("file %s: content_base64 is not base64: %w", g.Path, err)
		}
	} else {
		s, err := eval(f.Content)
		if err != nil {
			return g, fmt.Errorf("file %s: %w", g.Path, err)
		}
		g.Data = []byte(s)
	}
	if pipeline.IsSet(f.Mode) {
		s, err := eval(f.Mode)
		if err == nil {
			g.Mode, err = FileMode(s)
		}
		if err != nil {
			return g, fmt.Errorf("file %s: %w", g.Path, err)
		}
	}
	if pipeline.IsSet(f.Mtime) {
		s, err := eval(f.Mtime)
		if err == nil {
			g.ModTime, err = time.Parse(time.RFC3339, s)
		}
		if err != nil {
			return g, fmt.Errorf("file %s: mtime: %w", g.Path, err)
		}
	}
	return g, nil
}
