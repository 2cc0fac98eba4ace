package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// decodeMatch turns a match block into a matchers.Rule.
func (l *Loader) decodeMatch(cfg *Config, blk *hcl.Block) (matchers.Rule, *MatchBlock, hcl.Diagnostics) {
	var rule matchers.Rule
	var mb MatchBlock
	ctx := cfg.staticContext()
	attrs, diags := decodeBody(blk.Body, ctx, &mb)
	if diags.HasErrors() {
		return rule, nil, diags
	}
	mb.Text = l.attrText(attrs)

	ids := func(expr hcl.Expression, what string) []uint16 {
		list, d := stringList(expr, ctx, what)
		diags = append(diags, d...)
		var out []uint16
		for _, s := range list {
			id, err := matchers.ParseUSBID(s)
			if err != nil {
				diags = append(diags, errAt(expr.Range(), "Invalid USB id",
					fmt.Sprintf("%s %q: %s. Write USB ids as 1 to 4 hex digits, with or without 0x: \"0781\", \"0x0951\".", what, s, err)))
				continue
			}
			out = append(out, id)
		}
		return out
	}
	globs := func(expr hcl.Expression, what string) []string {
		list, d := stringList(expr, ctx, what)
		diags = append(diags, d...)
		for _, g := range list {
			if err := CheckGlob(g); err != nil {
				diags = append(diags, errAt(expr.Range(), "Invalid glob pattern", fmt.Sprintf("%s: %s.", what, err)))
			}
		}
		return list
	}
	rule.VendorIDs = ids(mb.VendorID, "vendor_id")
	rule.ProductIDs = ids(mb.ProductID, "product_id")
	rule.Serial = globs(mb.Serial, "serial")
	rule.Manufacturer = globs(mb.Manufacturer, "manufacturer")
	rule.Product = globs(mb.Product, "product")
	rule.Port = globs(mb.Port, "port")
	buses, d := stringList(mb.Bus, ctx, "bus")
	diags = append(diags, d...)
	diags = append(diags, checkBuses(buses, mb.Bus.Range())...)
	rule.Buses = buses
	if IsSet(mb.Size) {
		r, d := decodeSize(mb.Size, ctx)
		diags = append(diags, d...)
		rule.MinSize, rule.MaxSize, mb.SizeRange = r.Min, r.Max, r
	}
	return rule, &mb, diags
}

// decodeSize evaluates a match's size and parses it as a size range.
func decodeSize(expr hcl.Expression, ctx *hcl.EvalContext) (matchers.SizeRange, hcl.Diagnostics) {
	var text string
	diags := nameAttr(gohcl.DecodeExpression(expr, ctx, &text), "size", expr)
	if diags.HasErrors() {
		return matchers.SizeRange{}, diags
	}
	r, err := matchers.ParseSizeRange(text)
	if err != nil {
		msg := err.Error()
		return r, hcl.Diagnostics{errAt(expr.Range(), "Invalid size range", strings.ToUpper(msg[:1])+msg[1:]+".")}
	}
	return r, nil
}

// stringList evaluates an attribute that takes one string or a list of
// strings. An absent attribute gives nil.
func stringList(expr hcl.Expression, ctx *hcl.EvalContext, what string) ([]string, hcl.Diagnostics) {
	if !IsSet(expr) {
		return nil, nil
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() || v.IsNull() {
		return nil, diags
	}
	if !v.IsWhollyKnown() {
		// Only a local whose definition failed is unknown here; its error
		// is reported where it is defined.
		return nil, diags
	}
	bad := hcl.Diagnostics{errAt(expr.Range(), "Invalid value",
		fmt.Sprintf("%s takes a string or a list of strings.", what))}
	t := v.Type()
	if t == cty.String || t == cty.Number || t == cty.Bool {
		s, err := convert.Convert(v, cty.String)
		if err != nil {
			return nil, bad
		}
		return []string{s.AsString()}, diags
	}
	if !(t.IsListType() || t.IsTupleType() || t.IsSetType()) {
		return nil, bad
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		s, err := convert.Convert(ev, cty.String)
		if err != nil || s.IsNull() {
			return nil, bad
		}
		out = append(out, s.AsString())
	}
	return out, diags
}

// checkBuses reports each of buses that flashpipe cannot write to.
func checkBuses(buses []string, at hcl.Range) hcl.Diagnostics {
	var diags hcl.Diagnostics
	known := matchers.WritableBuses()
	for _, b := range buses {
		if !contains(known, b) {
			diags = append(diags, errAt(at, "Unknown bus",
				fmt.Sprintf("%q is not a bus flashpipe can write to.%s Valid buses: %s.", b, DidYouMean(b, known), strings.Join(known, ", "))))
		}
	}
	return diags
}

// attrText returns each attribute's expression as written in its file.
func (l *Loader) attrText(attrs hcl.Attributes) map[string]string {
	out := map[string]string{}
	for n, a := range attrs {
		r := a.Expr.Range()
		if f := l.Parser.Files()[r.Filename]; f != nil {
			out[n] = string(r.SliceBytes(f.Bytes))
		}
	}
	return out
}

// overlapWarnings warns about two profiles of equal priority whose matches
// cannot be shown to be disjoint: which one a stick gets then depends on
// their names only.
func overlapWarnings(profiles []*Profile) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for i := 0; i < len(profiles); i++ {
		for j := i + 1; j < len(profiles); j++ {
			a, b := profiles[i], profiles[j]
			if a.Priority != b.Priority || disjoint(a.Match, b.Match) {
				continue
			}
			diags = append(diags, warnAt(b.DeclRange, "Profiles may overlap",
				fmt.Sprintf("profiles %q and %q have the same priority (%d) and a stick may match both; %q wins because its name sorts first. Give one a higher priority, or make their matches disjoint.",
					a.Name, b.Name, a.Priority, a.Name)))
		}
	}
	return diags
}

// disjoint reports whether no device can match both rules, judged on
// vendor ids, product ids, buses and size ranges.
func disjoint(a, b matchers.Rule) bool {
	if len(a.VendorIDs) > 0 && len(b.VendorIDs) > 0 && !intersects(a.VendorIDs, b.VendorIDs) {
		return true
	}
	if len(a.ProductIDs) > 0 && len(b.ProductIDs) > 0 && !intersects(a.ProductIDs, b.ProductIDs) {
		return true
	}
	if len(a.Buses) > 0 && len(b.Buses) > 0 && !intersects(a.Buses, b.Buses) {
		return true
	}
	if a.MaxSize > 0 && b.MinSize > a.MaxSize || b.MaxSize > 0 && a.MinSize > b.MaxSize {
		return true
	}
	if len(a.Port) == 1 && len(b.Port) == 1 && !strings.ContainsAny(a.Port[0]+b.Port[0], "*?[{") && a.Port[0] != b.Port[0] {
		return true
	}
	return false
}

func intersects[T comparable](a, b []T) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// missingPaths reports each of paths that does not exist (or cannot be
// looked at), at its element of expr when expr is a list written out, else
// at expr: every job that copies it would fail.
func missingPaths(paths []string, expr hcl.Expression) hcl.Diagnostics {
	if expr == nil {
		return nil
	}
	items, d := hcl.ExprList(expr)
	if d.HasErrors() || len(items) != len(paths) {
		items = nil
	}
	var diags hcl.Diagnostics
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err == nil && (fi.IsDir() || fi.Mode().IsRegular()) {
			continue
		}
		r := expr.Range()
		if items != nil {
			r = items[i].Range()
		}
		var summary, why string
		switch {
		case err == nil:
			summary, why = "Content path is not a file or directory",
				fmt.Sprintf("%s is a %s; a content path must name a regular file or a directory", p, fsimage.KindOf(fi.Mode()))
		case errors.Is(err, fs.ErrNotExist):
			summary, why = "Content path does not exist", p+" does not exist"
		default:
			summary, why = "Content path cannot be read", err.Error()
		}
		diags = append(diags, errAt(r, summary, why+". A station refuses to start without its content, and jobs that copy it would fail. "+
			"Where the content exists only on the stations, check the files with flashpipe validate --skip-content."))
	}
	return diags
}
