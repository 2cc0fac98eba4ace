package pipeline

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flashpipe/flashpipe/fsimage"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// The functions of per-device expressions beyond Functions: those that
// depend on the job (uuid, timestamp) and those that read files relative
// to the station file that declares the step (file, filebase64,
// templatefile). base64encode and base64decode are pure.

// jobFunctions returns uuid and timestamp: a fresh random UUID at each
// call, and the job's start time (now) in RFC 3339.
func jobFunctions(now cty.Value) map[string]function.Function {
	return map[string]function.Function{
		"uuid": function.New(&function.Spec{
			Type: function.StaticReturnType(cty.String),
			Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
				return cty.StringVal(NewUUID()), nil
			},
		}),
		"timestamp": function.New(&function.Spec{
			Type: function.StaticReturnType(cty.String),
			Impl: func([]cty.Value, cty.Type) (cty.Value, error) { return now, nil },
		}),
		"base64encode": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "str", Type: cty.String}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(args[0].AsString()))), nil
			},
		}),
	}
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("pipeline: no randomness: %v", err)) // crypto/rand does not fail on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// fileFunctions returns file, filebase64 and templatefile, which read
// paths relative to dir. templatefile evaluates the template in ctx, the
// per-device context, with the attributes of its second argument added
// as variables of their own.
func fileFunctions(dir string, ctx *hcl.EvalContext) map[string]function.Function {
	read := func(p string) ([]byte, error) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return fsimage.ReadRegular(p)
	}
	pathParam := []function.Parameter{{Name: "path", Type: cty.String}}
	reader := func(encode func([]byte) string) function.Function {
		return function.New(&function.Spec{
			Params: pathParam,
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				b, err := read(args[0].AsString())
				if err != nil {
					return cty.NilVal, err
				}
				return cty.StringVal(encode(b)), nil
			},
		})
	}
	return map[string]function.Function{
		"file":       reader(func(b []byte) string { return string(b) }),
		"filebase64": reader(base64.StdEncoding.EncodeToString),
		"templatefile": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "path", Type: cty.String}, {Name: "vars", Type: cty.DynamicPseudoType, AllowUnknown: true}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				name := args[0].AsString()
				src, err := read(name)
				if err != nil {
					return cty.NilVal, err
				}
				return evalTemplate(src, name, args[1], ctx)
			},
		}),
	}
}

// evalTemplate evaluates a template's source in a child of ctx that adds
// vars' attributes as variables.
func evalTemplate(src []byte, name string, vars cty.Value, ctx *hcl.EvalContext) (cty.Value, error) {
	expr, diags := hclsyntax.ParseTemplate(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("template %s", diags.Error())
	}
	child := ctx.NewChild()
	child.Variables = map[string]cty.Value{}
	if !vars.IsKnown() {
		return cty.UnknownVal(cty.String), nil
	}
	if !vars.IsNull() {
		if !vars.Type().IsObjectType() && !vars.Type().IsMapType() {
			return cty.NilVal, fmt.Errorf("the second argument of templatefile is an object of variables, such as {name = device.serial}")
		}
		for it := vars.ElementIterator(); it.Next(); {
			k, v := it.Element()
			child.Variables[k.AsString()] = v
		}
	}
	v, diags := expr.Value(child)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("template %s", diags.Error())
	}
	return v, nil
}

// WithFiles returns a child of ctx, a per-device context, that adds the
// functions reading files relative to dir (file, filebase64,
// templatefile).
func WithFiles(ctx *hcl.EvalContext, dir string) *hcl.EvalContext {
	child := ctx.NewChild()
	child.Functions = map[string]function.Function{}
	for n, f := range ctx.Functions {
		child.Functions[n] = f
	}
	for n, f := range fileFunctions(dir, child) {
		child.Functions[n] = f
	}
	return child
}

// checkTemplates finds the calls of templatefile in expr whose path is a
// literal string, parses each template and checks its references as a
// per-device expression's, with the names the call's variables object
// adds: template syntax and unknown names are reported before any stick
// arrives, with ranges in the template file.
func (c *Config) checkTemplates(expr hcl.Expression, dir string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	hsx, ok := expr.(hclsyntax.Expression)
	if !ok {
		return nil
	}
	hclsyntax.VisitAll(hsx, func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok || call.Name != "templatefile" || len(call.Args) == 0 {
			return nil
		}
		pv, d := call.Args[0].Value(nil)
		if d.HasErrors() || !pv.IsKnown() || pv.IsNull() || pv.Type() != cty.String {
			return nil
		}
		name := pv.AsString()
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		src, err := fsimage.ReadRegular(p)
		if err != nil {
			r := call.Args[0].Range()
			diags = append(diags, errAt(r, "Cannot read template", fmt.Sprintf("templatefile(%q): %s. Paths are relative to the station file that declares the step.", name, err)))
			return nil
		}
		if c.templates == nil {
			c.templates = map[string][]byte{}
		}
		c.templates[p] = src
		tmpl, d := hclsyntax.ParseTemplate(src, p, hcl.InitialPos)
		diags = append(diags, d...)
		if d.HasErrors() {
			return nil
		}
		extra := map[string]bool{}
		if len(call.Args) > 1 {
			if obj, ok := call.Args[1].(*hclsyntax.ObjectConsExpr); ok {
				for _, item := range obj.Items {
					if k := hcl.ExprAsKeyword(item.KeyExpr); k != "" {
						extra[k] = true
					} else if kv, d := item.KeyExpr.Value(nil); !d.HasErrors() && kv.Type() == cty.String && kv.IsKnown() {
						extra[kv.AsString()] = true
					}
				}
			} else {
				return nil // variables not written as an object: their names are not known here
			}
		}
		diags = append(diags, c.checkRefs(tmpl.Variables(), extra)...)
		return nil
	})
	return diags
}

// PoolRowType is the object type of a pool's row: one string per column.
func poolRowType(columns []string) cty.Type {
	m := map[string]cty.Type{}
	for _, c := range columns {
		m[c] = cty.String
	}
	return cty.Object(m)
}

// poolValue is the pool variable of per-device expressions: for each
// declared pool, {row = {column = value}}. rows holds the job's rows; a
// pool without one (every pool at load time) has an unknown row.
func (c *Config) poolValue(rows map[string]map[string]string) cty.Value {
	m := map[string]cty.Value{}
	for name, p := range c.Pools {
		row := cty.UnknownVal(poolRowType(p.Columns))
		if p.Columns == nil {
			row = cty.DynamicVal // not read (validate --skip-content): any column
		}
		if r, ok := rows[name]; ok {
			vals := map[string]cty.Value{}
			for _, col := range p.Columns {
				vals[col] = cty.StringVal(r[col])
			}
			row = cty.ObjectVal(vals)
			if len(vals) == 0 {
				row = cty.EmptyObjectVal
			}
		}
		m[name] = cty.ObjectVal(map[string]cty.Value{"row": row})
	}
	return objectOrEmpty(m)
}

// PoolsUsed returns the names of the pools expr refers to (pool.NAME...),
// sorted, including references inside the templates it reads with
// templatefile from dir.
func (c *Config) PoolsUsed(expr hcl.Expression, dir string) []string {
	seen := map[string]bool{}
	add := func(trs []hcl.Traversal) {
		for _, tr := range trs {
			if tr.RootName() != "pool" || len(tr) < 2 {
				continue
			}
			if a, ok := tr[1].(hcl.TraverseAttr); ok {
				if _, declared := c.Pools[a.Name]; declared {
					seen[a.Name] = true
				}
			}
		}
	}
	add(expr.Variables())
	if hsx, ok := expr.(hclsyntax.Expression); ok {
		hclsyntax.VisitAll(hsx, func(n hclsyntax.Node) hcl.Diagnostics {
			call, ok := n.(*hclsyntax.FunctionCallExpr)
			if !ok || call.Name != "templatefile" || len(call.Args) == 0 {
				return nil
			}
			pv, d := call.Args[0].Value(nil)
			if d.HasErrors() || !pv.IsKnown() || pv.Type() != cty.String {
				return nil
			}
			p := pv.AsString()
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			if src, err := fsimage.ReadRegular(p); err == nil {
				if tmpl, d := hclsyntax.ParseTemplate(src, p, hcl.InitialPos); !d.HasErrors() {
					add(tmpl.Variables())
				}
			}
			return nil
		})
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// checkPoolRef checks a reference that starts with pool: pool.NAME.row.COLUMN.
func (c *Config) checkPoolRef(tr hcl.Traversal) *hcl.Diagnostic {
	names := sortedKeys(c.Pools)
	rng := tr.SourceRange()
	if len(tr) < 2 {
		return errAt(rng, "Incomplete pool reference", "Use pool.NAME.row.COLUMN, such as pool.keys.row.key.")
	}
	a, ok := tr[1].(hcl.TraverseAttr)
	if !ok {
		return errAt(rng, "Invalid pool reference", "Use pool.NAME.row.COLUMN, such as pool.keys.row.key.")
	}
	p, ok := c.Pools[a.Name]
	if !ok {
		detail := fmt.Sprintf("There is no pool block named %q.%s", a.Name, DidYouMean(a.Name, names))
		if len(names) > 0 {
			detail += " Declared pools: " + strings.Join(names, ", ") + "."
		} else {
			detail += fmt.Sprintf(` Declare one: pool %q { csv = "%s.csv" }.`, a.Name, a.Name)
		}
		return errAt(a.SrcRange, "Reference to undeclared pool", detail)
	}
	if len(tr) < 3 {
		return errAt(rng, "Incomplete pool reference", fmt.Sprintf("Use pool.%s.row.COLUMN: the row this stick takes, one of its columns.", a.Name))
	}
	r, ok := tr[2].(hcl.TraverseAttr)
	if !ok || r.Name != "row" {
		return errAt(rng, "Invalid pool reference", fmt.Sprintf("A pool has one attribute, row: use pool.%s.row.COLUMN.", a.Name))
	}
	if len(tr) < 4 || p.Columns == nil {
		return nil // the whole row, or columns not read (validate --skip-content)
	}
	col, ok := tr[3].(hcl.TraverseAttr)
	if ok && !contains(p.Columns, col.Name) {
		return errAt(col.SrcRange, fmt.Sprintf("Unknown column pool.%s.row.%s", a.Name, col.Name),
			fmt.Sprintf("Pool %q (%s) has no column %q.%s Its columns: %s.", a.Name, p.File, col.Name, DidYouMean(col.Name, p.Columns), strings.Join(p.Columns, ", ")))
	}
	return nil
}
