package pipeline

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// DeviceType is the type of the device object per-device expressions see.
var DeviceType = cty.Object(map[string]cty.Type{
	"name":         cty.String,
	"vendor_id":    cty.String, // 4 lowercase hex digits, "0781"
	"product_id":   cty.String,
	"serial":       cty.String,
	"manufacturer": cty.String,
	"product":      cty.String,
	"port":         cty.String, // "1-1.4"
	"bus":          cty.String,
	"size":         cty.Number, // bytes
	"diskseq":      cty.Number,
	"usable_size":  cty.Number, // bytes that keep what is written: size, or less after a probe step's shrink
})

// JobType is the type of the job object: seq counts jobs from 1 since the
// station started.
var JobType = cty.Object(map[string]cty.Type{"seq": cty.Number})

// StationType is the type of the station object.
var StationType = cty.Object(map[string]cty.Type{"name": cty.String})

// Functions returns the functions available in expressions.
func Functions() map[string]function.Function {
	return map[string]function.Function{
		"upper":         stdlib.UpperFunc,
		"lower":         stdlib.LowerFunc,
		"title":         stdlib.TitleFunc,
		"format":        stdlib.FormatFunc,
		"formatlist":    stdlib.FormatListFunc,
		"formatdate":    stdlib.FormatDateFunc,
		"replace":       stdlib.ReplaceFunc,
		"regex_replace": stdlib.RegexReplaceFunc,
		"substr":        stdlib.SubstrFunc,
		"trimspace":     stdlib.TrimSpaceFunc,
		"trim":          stdlib.TrimFunc,
		"trimprefix":    stdlib.TrimPrefixFunc,
		"trimsuffix":    stdlib.TrimSuffixFunc,
		"join":          stdlib.JoinFunc,
		"split":         stdlib.SplitFunc,
		"concat":        stdlib.ConcatFunc,
		"length":        stdlib.LengthFunc,
		"coalesce":      stdlib.CoalesceFunc,
		"min":           stdlib.MinFunc,
		"max":           stdlib.MaxFunc,
		"abs":           stdlib.AbsoluteFunc,
		"floor":         stdlib.FloorFunc,
		"ceil":          stdlib.CeilFunc,
		"timeadd":       stdlib.TimeAddFunc,
	}
}

// deviceRoots are the names a per-device expression may start with.
var deviceRoots = []string{"var", "local", "device", "job", "station", "now", "pool"}

// DeviceRoots returns the names a per-device expression may start with:
// var, local, device, job, station, now, pool.
func DeviceRoots() []string { return append([]string(nil), deviceRoots...) }

// staticContext is what station, source, locals and static step
// attributes are evaluated in.
func (c *Config) staticContext() *hcl.EvalContext {
	if c.static != nil {
		return c.static
	}
	srcs := map[string]cty.Value{}
	for n := range c.Sources {
		srcs[n] = cty.StringVal(n)
	}
	c.static = &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":    objectOrEmpty(c.Vars),
			"local":  objectOrEmpty(c.Locals),
			"source": objectOrEmpty(srcs),
		},
		Functions: Functions(),
	}
	return c.static
}

func objectOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

// checkDeviceExpr checks the references of a per-device expression by name
// (with did-you-mean suggestions) and then evaluates it with unknown device
// values, which type-checks function calls.
func (c *Config) checkDeviceExpr(expr hcl.Expression) hcl.Diagnostics {
	return c.checkDeviceExprIn(expr, "", cty.String)
}

// checkDeviceExprIn is checkDeviceExpr for an expression that may also
// read files relative to dir (WithFiles; "" for none) and whose value
// converts to want.
func (c *Config) checkDeviceExprIn(expr hcl.Expression, dir string, want cty.Type) hcl.Diagnostics {
	diags := c.checkRefs(expr.Variables(), nil)
	if dir != "" {
		diags = append(diags, c.checkTemplates(expr, dir)...)
	}
	if diags.HasErrors() {
		return diags
	}
	ctx := c.deviceContext(cty.UnknownVal(DeviceType), cty.UnknownVal(JobType), cty.UnknownVal(cty.String), nil)
	if dir != "" {
		ctx = WithFiles(ctx, dir)
	}
	v, more := expr.Value(ctx)
	diags = append(diags, more...)
	if !more.HasErrors() {
		if _, err := convert.Convert(v, want); err != nil {
			rng := expr.Range()
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Expression is not a " + want.FriendlyName(),
				Detail:   fmt.Sprintf("This value must be a %s: %s.", want.FriendlyName(), err),
				Subject:  &rng,
			})
		}
	}
	return diags
}

// checkRefs checks references of a per-device expression or template by
// name: roots, the attributes of device, job, station, var and local, and
// pool references. extra are names a template's variables add.
func (c *Config) checkRefs(trs []hcl.Traversal, extra map[string]bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	known := map[string][]string{
		"device":  attrNames(DeviceType),
		"job":     attrNames(JobType),
		"station": attrNames(StationType),
		"var":     mapKeys(c.Vars),
		"local":   mapKeys(c.Locals),
	}
	roots := deviceRoots
	for n := range extra {
		roots = append(append([]string(nil), roots...), n)
	}
	for _, tr := range trs {
		root := tr.RootName()
		rng := tr.SourceRange()
		if extra[root] {
			continue
		}
		if root == "pool" {
			if d := c.checkPoolRef(tr); d != nil {
				diags = append(diags, d)
			}
			continue
		}
		names, ok := known[root]
		if !ok {
			if root == "now" {
				continue
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown variable",
				Detail: fmt.Sprintf("There is no variable named %q.%s Per-device expressions may use %s.",
					root, DidYouMean(root, roots), strings.Join(roots, ", ")),
				Subject: &rng,
			})
			continue
		}
		if len(tr) < 2 {
			continue
		}
		attr, ok := tr[1].(hcl.TraverseAttr)
		if !ok {
			continue
		}
		if !contains(names, attr.Name) {
			r := attr.SrcRange
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Unknown attribute %s.%s", root, attr.Name),
				Detail: fmt.Sprintf("%s has no attribute %q.%s Valid names: %s.",
					root, attr.Name, DidYouMean(attr.Name, names), strings.Join(names, ", ")),
				Subject: &r,
			})
		}
	}
	return diags
}

// deviceContext is the per-device context: rows are the job's pool rows
// (nil at load time: every pool's row unknown).
func (c *Config) deviceContext(dev, job, now cty.Value, rows map[string]map[string]string) *hcl.EvalContext {
	child := c.staticContext().NewChild()
	// hcl suggests a function name ("Did you mean ...?") only from the
	// context the expression is evaluated in, not from its parents.
	child.Functions = map[string]function.Function{}
	for n, f := range c.staticContext().Functions {
		child.Functions[n] = f
	}
	for n, f := range jobFunctions(now) {
		child.Functions[n] = f
	}
	child.Variables = map[string]cty.Value{
		"device":  dev,
		"job":     job,
		"station": cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(c.Station.Name)}),
		"now":     now,
		"pool":    c.poolValue(rows),
	}
	return child
}

// DeviceContext returns the evaluation context for one stick: a child of
// the static context holding the real device, the job and the time.
func (c *Config) DeviceContext(d *matchers.Device, target string, seq int, now time.Time) *hcl.EvalContext {
	return c.JobContext(d, target, seq, now, nil)
}

// JobContext is DeviceContext for a job that took rows from pools: rows
// holds, by pool name, the row's value of each column.
func (c *Config) JobContext(d *matchers.Device, target string, seq int, now time.Time, rows map[string]map[string]string) *hcl.EvalContext {
	return c.deviceContext(DeviceValue(d, target), cty.ObjectVal(map[string]cty.Value{"seq": cty.NumberIntVal(int64(seq))}),
		cty.StringVal(now.UTC().Format(time.RFC3339)), rows)
}

// DeviceValue converts a device to the object expressions see. Every job
// has a device (matchers.ImageFile for an image file); a nil device, for
// checks at load time only, gives target as the name and empty values.
func DeviceValue(d *matchers.Device, target string) cty.Value {
	m := map[string]cty.Value{}
	for n := range DeviceType.AttributeTypes() {
		m[n] = cty.StringVal("")
	}
	m["size"], m["diskseq"], m["usable_size"] = cty.Zero, cty.Zero, cty.Zero
	m["name"] = cty.StringVal(target)
	if d != nil {
		m["name"] = cty.StringVal(d.Name)
		m["vendor_id"] = cty.StringVal(matchers.FormatUSBID(d.VendorID))
		m["product_id"] = cty.StringVal(matchers.FormatUSBID(d.ProductID))
		m["serial"] = cty.StringVal(d.Serial)
		m["manufacturer"] = cty.StringVal(d.Manufacturer)
		m["product"] = cty.StringVal(d.Product)
		m["port"] = cty.StringVal(d.Port)
		m["bus"] = cty.StringVal(d.Bus)
		m["size"] = cty.NumberIntVal(d.Size)
		m["diskseq"] = cty.NumberUIntVal(d.DiskSeq)
		m["usable_size"] = m["size"]
	}
	return cty.ObjectVal(m)
}

// withUsable returns the device object dev with usable_size set.
func withUsable(dev cty.Value, usable int64) cty.Value {
	m := dev.AsValueMap()
	m["usable_size"] = cty.NumberIntVal(usable)
	return cty.ObjectVal(m)
}

// EvalString evaluates a per-device expression to a string.
func EvalString(expr hcl.Expression, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return "", diags
	}
	if v.IsNull() {
		return "", diags
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil || !s.IsKnown() {
		rng := expr.Range()
		return "", append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Expression is not a string",
			Detail:   fmt.Sprintf("This value must be a string (%v).", err),
			Subject:  &rng,
		})
	}
	return s.AsString(), diags
}

// IsSet reports whether an optional expression attribute was given. An
// explicit null counts as not given.
func IsSet(expr hcl.Expression) bool {
	if expr == nil {
		return false
	}
	if len(expr.Variables()) > 0 {
		return true
	}
	v, diags := expr.Value(nil)
	return diags.HasErrors() || !v.IsNull()
}

func attrNames(t cty.Type) []string {
	var names []string
	for n := range t.AttributeTypes() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func mapKeys(m map[string]cty.Value) []string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// DidYouMean returns ` Did you mean "x"?` when one of names is close to
// given, else "".
func DidYouMean(given string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if d := levenshtein.Distance(given, n, nil); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}
