package main

import (
	_ "embed"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flashpipe/flashpipe/diskimage"
	"github.com/flashpipe/flashpipe/fsimage/compile"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"
)

// legacyFlags are the original python-flashstation's flags. With -c, a
// command needs no config file: it builds the implicit profile.
type legacyFlags struct {
	clone      []string
	exclude    []string
	label      string
	tmpMount   string
	concurrent int
	// concurrentSet says -n was given, so that -n 0 is refused rather
	// than read as "not given".
	concurrentSet bool
	// layout, for build and flash
	fs    string
	table string
	// image and bmap: --image FILE writes a disk image instead of -c's
	// content (flash, run, plan, validate).
	image, bmap string

	// labelAt is where --label starts in its rendered expression: 0 for an
	// expression, 1 for a template (after the quote), -1 for a plain
	// string (quoted and escaped, so not byte for byte).
	labelAt int
	// values are the flags' values found in the implicit profile once
	// loaded, so that diagnostics point at the flags (pointAtFlags).
	values []flagValue
}

// implicitFile is the name the implicit profile is loaded under.
const implicitFile = "<command line>"

func (f *legacyFlags) register(cmd *cobra.Command, layout bool) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.clone, "clone", "c", nil, "copy the contents of PATH to every stick (repeatable); no config file needed")
	fl.StringArrayVarP(&f.exclude, "exclude", "x", nil, "leave out files with extension EXT, e.g. -x jpg (repeatable)")
	fl.StringVar(&f.label, "label", "", "volume label of every stick: plain text (EXPO, EXPO-2026), or an expression when it uses device, job, station or now or calls a function ('format(\"EXPO%03d\", job.seq)'); ${...} makes a template ('EXPO-${job.seq}')")
	fl.StringVar(&f.tmpMount, "tmp-mount", "", "accepted for compatibility; flashpipe never mounts to copy (it writes the filesystem image directly)")
	if layout {
		fl.StringVar(&f.fs, "fs", "vfat", "filesystem: "+strings.Join(compile.Names(), ", "))
		fl.StringVar(&f.table, "table", "mbr", "partition table: mbr, gpt or none")
	}
}

// registerConcurrent adds -n, for the commands that run a station (run)
// or show one (validate, plan).
func (f *legacyFlags) registerConcurrent(cmd *cobra.Command, usage string) {
	cmd.Flags().VarP(concurrentValue{f}, "concurrent", "n", usage)
}

// concurrentValue is -n as a flag value: an int, as pflag's own, that
// also records that it was given.
type concurrentValue struct{ f *legacyFlags }

func (v concurrentValue) String() string { return strconv.Itoa(v.f.concurrent) }
func (v concurrentValue) Type() string   { return "int" }

func (v concurrentValue) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return err
	}
	v.f.concurrent, v.f.concurrentSet = int(n), true
	return nil
}

// checkConcurrent refuses a -n below 1.
func (f *legacyFlags) checkConcurrent() error {
	if f.concurrentSet && f.concurrent < 1 {
		return fmt.Errorf("-n %d: give how many sticks to write at once, 1 or more", f.concurrent)
	}
	return nil
}

// registerImage adds --image and --bmap, for the commands that write sticks
// or check what would be written.
func (f *legacyFlags) registerImage(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.image, "image", "", "write the disk image FILE (raw, gzip, xz, zstd, bzip2 or a zip holding one) to every stick; no config file needed")
	fl.StringVar(&f.bmap, "bmap", diskimage.BmapAuto, `with --image: a bmaptool block map FILE, "auto" (one next to the image or in the zip, if any) or "none"`)
}

func (f *legacyFlags) active() bool { return len(f.clone) > 0 || f.image != "" }

// load builds the implicit profile and loads it, with its diagnostics
// pointed at the flags. The implicit profile uses no variables, so
// FLASHPIPE_VAR_* (set, perhaps, for the station files of another run)
// cannot change it: the environment is not read.
func (f *legacyFlags) load(skipContent, eject bool) (*pipeline.Loader, *pipeline.Config, hcl.Diagnostics, error) {
	src, err := f.config(eject)
	if err != nil {
		return nil, nil, nil, err
	}
	l := pipeline.NewLoader(steps.Builtin())
	l.SkipContent = skipContent
	cfg, diags := l.LoadSource(implicitFile, src)
	f.locate(l.Parser)
	return l, cfg, f.pointAtFlags(diags), nil
}

//go:embed implicit.hcl
var implicitTemplate []byte

// config renders the implicit profile (implicit.hcl, with the flags'
// values filled in) as HCL, so it goes through the same loader and
// compiler as a file: any allowed stick; wipe quick; partition; mkfs;
// copy; verify sha1; label; eject.
func (f *legacyFlags) config(eject bool) ([]byte, error) {
	if f.image != "" {
		return f.imageConfig(eject)
	}
	file, diags := hclwrite.ParseConfig(implicitTemplate, "implicit.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		panic("implicit.hcl: " + diags.Error()) // embedded: a program bug
	}
	body := file.Body()
	if f.concurrent > 0 {
		st := body.AppendNewBlock("station", nil).Body()
		st.SetAttributeValue("name", cty.StringVal("flashpipe"))
		st.SetAttributeValue("concurrency", cty.NumberIntVal(int64(f.concurrent)))
	}
	if err := f.fillSource(body.FirstMatchingBlock("source", []string{"clone"}).Body()); err != nil {
		return nil, err
	}
	profile := body.FirstMatchingBlock("profile", []string{"clone"}).Body()
	var last *hclwrite.Block
	for _, b := range profile.Blocks() {
		if b.Type() != "step" {
			continue
		}
		last = b
		if err := f.fillStep(profile, b); err != nil {
			return nil, err
		}
	}
	if !eject {
		profile.RemoveBlock(last)
	}
	return hclwrite.Format(file.Bytes()), nil
}

//go:embed implicit-image.hcl
var implicitImageTemplate []byte

// imageConfig renders the implicit image profile (implicit-image.hcl): the
// image step's source is --image and its bmap --bmap.
func (f *legacyFlags) imageConfig(eject bool) ([]byte, error) {
	if len(f.clone) > 0 || len(f.exclude) > 0 || f.label != "" {
		return nil, fmt.Errorf("--image writes a whole disk image: give it without -c, -x or --label")
	}
	file, diags := hclwrite.ParseConfig(implicitImageTemplate, "implicit-image.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		panic("implicit-image.hcl: " + diags.Error()) // embedded: a program bug
	}
	body := file.Body()
	if f.concurrent > 0 {
		st := body.AppendNewBlock("station", nil).Body()
		st.SetAttributeValue("concurrency", cty.NumberIntVal(int64(f.concurrent)))
	}
	image, err := filepath.Abs(f.image)
	if err != nil {
		return nil, err
	}
	bmap := f.bmap
	switch bmap {
	case "none":
		bmap = ""
	case diskimage.BmapAuto, "":
	default:
		if bmap, err = filepath.Abs(bmap); err != nil {
			return nil, err
		}
	}
	profile := body.Blocks()[0].Body()
	var last *hclwrite.Block
	for _, b := range profile.Blocks() {
		if b.Type() != "step" {
			continue
		}
		last = b
		if b.Body().GetAttribute("source") != nil {
			b.Body().SetAttributeValue("source", cty.StringVal(image))
			b.Body().SetAttributeValue("bmap", cty.StringVal(bmap))
		}
	}
	if !eject {
		profile.RemoveBlock(last)
	}
	return hclwrite.Format(file.Bytes()), nil
}

// fillSource sets the implicit source's paths (-c) and excludes (-x).
func (f *legacyFlags) fillSource(src *hclwrite.Body) error {
	var paths []cty.Value
	for _, c := range f.clone {
		abs, err := filepath.Abs(c)
		if err != nil {
			return err
		}
		paths = append(paths, cty.StringVal(abs))
	}
	src.SetAttributeValue("paths", cty.ListVal(paths))
	if len(f.exclude) == 0 {
		return nil
	}
	var ex []cty.Value
	for _, x := range f.exclude {
		x = strings.TrimPrefix(x, ".")
		if x == "" || strings.ContainsAny(x, "/*?[]{}") {
			return fmt.Errorf("-x %q: give a file extension such as jpg", x)
		}
		ex = append(ex, cty.StringVal("**/*."+x))
	}
	src.SetAttributeValue("exclude", cty.ListVal(ex))
	return nil
}

// fillStep sets the step attributes the flags give: table (--table), type
// (--fs) and label (--label; without one, the step that holds it goes).
func (f *legacyFlags) fillStep(profile *hclwrite.Body, b *hclwrite.Block) error {
	body := b.Body()
	if body.GetAttribute("table") != nil && f.table != "" {
		body.SetAttributeValue("table", cty.StringVal(f.table))
	}
	if body.GetAttribute("type") != nil && f.fs != "" {
		body.SetAttributeValue("type", cty.StringVal(f.fs))
	}
	if body.GetAttribute("label") == nil {
		return nil
	}
	if f.label == "" {
		profile.RemoveBlock(b)
		return nil
	}
	toks, at, err := labelTokens(f.label)
	if err != nil {
		return err
	}
	f.labelAt = at
	body.SetAttributeRaw("label", toks)
	return nil
}

// labelTokens writes --label into the implicit profile, read by one rule:
// a value that parses as an HCL expression and uses device, job, station,
// now, var or local, or calls one of flashpipe's functions, is that
// expression (format("EXPO%03d", job.seq), device.serial != "" ?
// device.serial : "NOSERIAL"); otherwise a value holding ${ is a string
// template (EXPO-${job.seq}); anything else is the label as typed (EXPO,
// EXPO-2026, A(1), HALL A). It returns where the value starts in the
// tokens, or -1 when it is written as a quoted string.
func labelTokens(label string) (hclwrite.Tokens, int, error) {
	switch {
	case labelIsExpression(label):
		return hclwrite.Tokens{{Type: hclsyntax.TokenIdent, Bytes: []byte(label)}}, 0, nil
	case strings.Contains(label, "${"):
		// A broken template would garble the rest of the implicit
		// profile: report it here.
		tmpl := `"` + label + `"`
		if _, diags := hclsyntax.ParseExpression([]byte(tmpl), "--label", hcl.InitialPos); diags.HasErrors() {
			d := diags[0]
			return nil, 0, fmt.Errorf("--label %s: a label with ${ is a template, and this one is broken: %s: %s", label, d.Summary, d.Detail)
		}
		return hclwrite.Tokens{{Type: hclsyntax.TokenIdent, Bytes: []byte(tmpl)}}, 1, nil
	}
	return hclwrite.TokensForValue(cty.StringVal(label)), -1, nil
}

// labelIsExpression reports whether a --label value parses as an HCL
// expression that uses a per-device name or calls a known function.
func labelIsExpression(label string) bool {
	expr, diags := hclsyntax.ParseExpression([]byte(label), "--label", hcl.InitialPos)
	if diags.HasErrors() {
		return false
	}
	roots := pipeline.DeviceRoots()
	for _, tr := range expr.Variables() {
		if slices.Contains(roots, tr.RootName()) {
			return true
		}
	}
	funcs := pipeline.Functions()
	calls := false
	hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if c, ok := n.(*hclsyntax.FunctionCallExpr); ok {
			if _, known := funcs[c.Name]; known {
				calls = true
			}
		}
		return nil
	})
	return calls
}

// flagValue is one value of a command-line flag as rendered into the
// implicit profile.
type flagValue struct {
	flag  string    // as typed: "-c", "--label"
	line  int       // which value of a repeated flag, from 1
	start int       // byte offset of the value in the flag's pseudo-file
	value string    // as given
	at    int       // where value starts in expr, or -1 (see labelAt)
	expr  hcl.Range // the rendered value in implicitFile
}

// locate finds the flags' values in the loaded implicit profile and adds
// one pseudo-file per flag to the parser, holding its values one a line,
// so that diagnostics on them show the flag and the value as typed.
func (f *legacyFlags) locate(p *hclparse.Parser) {
	file := p.Files()[implicitFile]
	if file == nil {
		return
	}
	body, ok := file.Body.(*hclsyntax.Body)
	if !ok {
		return
	}
	f.values = nil
	add := func(flag string, values []string, exprs []hclsyntax.Expression, at int) {
		if len(values) != len(exprs) {
			return
		}
		var text strings.Builder
		for i, v := range values {
			f.values = append(f.values, flagValue{flag: flag, line: i + 1, start: text.Len(), value: v, at: at, expr: exprs[i].Range()})
			text.WriteString(v + "\n")
		}
		p.AddFile(flag, &hcl.File{Body: hcl.EmptyBody(), Bytes: []byte(text.String())})
	}
	for _, b := range body.Blocks {
		switch b.Type {
		case "source":
			add("-c", f.clone, tupleItems(b.Body, "paths"), -1)
			add("-x", f.exclude, tupleItems(b.Body, "exclude"), -1)
		case "profile":
			for _, st := range b.Body.Blocks {
				if st.Type != "step" {
					continue
				}
				add("--table", []string{f.table}, attrExpr(st.Body, "table"), -1)
				add("--fs", []string{f.fs}, attrExpr(st.Body, "type"), -1)
				add("--label", []string{f.label}, attrExpr(st.Body, "label"), f.labelAt)
				add("--image", []string{f.image}, attrExpr(st.Body, "source"), -1)
			}
		}
	}
}

// attrExpr returns the expression of body's attribute name, as a list of
// one, or nil.
func attrExpr(body *hclsyntax.Body, name string) []hclsyntax.Expression {
	if a, ok := body.Attributes[name]; ok {
		return []hclsyntax.Expression{a.Expr}
	}
	return nil
}

// tupleItems returns the elements of body's list attribute name.
func tupleItems(body *hclsyntax.Body, name string) []hclsyntax.Expression {
	if a, ok := body.Attributes[name]; ok {
		if t, ok := a.Expr.(*hclsyntax.TupleConsExpr); ok {
			return t.Exprs
		}
	}
	return nil
}

// pointAtFlags moves diagnostics on the implicit profile to the flags that
// gave the values: "on --label line 1", with the value as typed. A
// diagnostic on no flag's value (the profile as a whole) loses its range;
// its detail names the profile.
func (f *legacyFlags) pointAtFlags(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		if d.Subject == nil || d.Subject.Filename != implicitFile {
			continue
		}
		d.Subject, d.Context = f.flagRange(*d.Subject), nil
	}
	return diags
}

// flagRange returns where r, a range in the implicit profile, falls in a
// flag's pseudo-file: the same bytes of an expression, or the whole value
// of anything else; nil when r is on no flag's value.
func (f *legacyFlags) flagRange(r hcl.Range) *hcl.Range {
	for _, v := range f.values {
		if r.Start.Byte < v.expr.Start.Byte || r.End.Byte > v.expr.End.Byte {
			continue
		}
		from, to := 0, len(v.value)
		if v.at >= 0 {
			from = min(max(r.Start.Byte-v.expr.Start.Byte-v.at, 0), len(v.value))
			to = min(max(r.End.Byte-v.expr.Start.Byte-v.at, from), len(v.value))
		}
		return &hcl.Range{Filename: v.flag, Start: v.pos(from), End: v.pos(to)}
	}
	return nil
}

// pos is the position of byte off of the value in its pseudo-file.
func (v flagValue) pos(off int) hcl.Pos {
	return hcl.Pos{Line: v.line, Column: 1 + utf8.RuneCountInString(v.value[:off]), Byte: v.start + off}
}
