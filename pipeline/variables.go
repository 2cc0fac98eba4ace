package pipeline

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// EnvPrefix starts the name of an environment variable that sets a
// variable block's value: FLASHPIPE_VAR_<name>.
const EnvPrefix = "FLASHPIPE_VAR_"

// decodeVariables decodes the variable blocks and gives each its value.
// A value given for a variable that no block declares is an error.
func (l *Loader) decodeVariables(cfg *Config, blocks []*hcl.Block) hcl.Diagnostics {
	diags := l.undeclaredValues(blocks)
	blocks, d := distinct("variable", blocks, hclIdent)
	diags = append(diags, d...)
	for _, b := range blocks {
		v, d := decodeVariable(b)
		diags = append(diags, d...)
		if d.HasErrors() {
			// Its own errors are reported; "no value" would only repeat them.
			continue
		}
		val, d := l.variableValue(v)
		diags = append(diags, d...)
		if val != cty.NilVal {
			cfg.Vars[v.Name] = val
		}
	}
	return diags
}

// decodeVariable decodes one variable block's type, default and
// description.
func decodeVariable(b *hcl.Block) (*Variable, hcl.Diagnostics) {
	name := b.Labels[0]
	content, diags := b.Body.Content(variableSchema)
	v := &Variable{Name: name, Type: cty.DynamicPseudoType, Literal: true, Default: cty.NilVal, DeclRange: b.DefRange}
	if a, ok := content.Attributes["type"]; ok {
		t, d := typeexpr.TypeConstraint(a.Expr)
		diags = append(diags, d...)
		v.Type = t
		v.Literal = t.IsPrimitiveType()
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, decodeAttr(a, nil, &v.Description)...)
	}
	if a, ok := content.Attributes["default"]; ok {
		val, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			cv, err := convert.Convert(val, v.Type)
			if err != nil {
				diags = append(diags, errAt(a.Expr.Range(), "Invalid default value", fmt.Sprintf("The default of variable %q does not fit its type: %s.", name, err)))
			} else {
				v.Default = cv
			}
		}
	}
	return v, diags
}

// valueOrigin is where a variable's text value came from: the command line
// (--var NAME=VALUE) or the environment (FLASHPIPE_VAR_NAME).
type valueOrigin struct {
	env  bool
	name string // the variable's name
}

// assign shows the value as it was given: `--var ports=["a"]`.
func (o valueOrigin) assign(raw string) string {
	if strings.ContainsAny(raw, "\n\r\t") {
		raw = strconv.Quote(raw)
	}
	if o.env {
		return EnvPrefix + o.name + "=" + raw + " (from the environment)"
	}
	return "--var " + o.name + "=" + raw
}

// variableValue picks a variable's value: --var, then the environment, then
// the default.
func (l *Loader) variableValue(v *Variable) (cty.Value, hcl.Diagnostics) {
	raw, ok := l.Vars[v.Name]
	origin := valueOrigin{name: v.Name}
	if !ok {
		raw, ok = l.env()[EnvPrefix+v.Name]
		origin.env = true
	}
	if !ok {
		if v.Default == cty.NilVal {
			return cty.NilVal, hcl.Diagnostics{errAt(v.DeclRange, "No value for required variable",
				fmt.Sprintf("Variable %q has no default. Give it one, or pass --var %s=VALUE (or set %s%s).", v.Name, v.Name, EnvPrefix, v.Name))}
		}
		return v.Default, nil
	}
	val, problem := v.parseText(raw)
	if problem != "" {
		return cty.NilVal, hcl.Diagnostics{errAt(v.DeclRange, "Invalid variable value", origin.assign(raw)+" "+problem)}
	}
	return val, nil
}

// parseText turns a value given as text into a value of the variable's
// type, as Terraform does: a variable without a type or of a primitive
// type (string, number, bool) takes the text itself as a string and
// converts it; any other type (any, lists, maps, objects) parses the text
// as an HCL expression. When it cannot, problem says why, as the rest of a
// sentence.
func (v *Variable) parseText(raw string) (val cty.Value, problem string) {
	val = cty.StringVal(raw)
	if !v.Literal {
		expr, diags := hclsyntax.ParseExpression([]byte(raw), "<value>", hcl.InitialPos)
		if diags.HasErrors() {
			return cty.NilVal, fmt.Sprintf("is not a valid HCL expression: %s. %s", diagAt(diags[0]), hclHint(v.Type))
		}
		val, diags = expr.Value(nil)
		if diags.HasErrors() {
			return cty.NilVal, fmt.Sprintf("is not a plain value: %s. %s", diagAt(diags[0]), hclHint(v.Type))
		}
	}
	cv, err := convert.Convert(val, v.Type)
	if err != nil {
		problem = fmt.Sprintf("does not fit the variable's type, %s: %s.", typeexpr.TypeString(v.Type), err)
		if !v.Literal {
			problem += " " + hclHint(v.Type)
		}
		return cty.NilVal, problem
	}
	return cv, ""
}

// diagAt renders a diagnostic about a value given as text: "Missing item
// separator at column 9: Expected a comma ...".
func diagAt(d *hcl.Diagnostic) string {
	s := d.Summary
	if d.Subject != nil {
		if d.Subject.Start.Line > 1 {
			s += fmt.Sprintf(" at line %d, column %d", d.Subject.Start.Line, d.Subject.Start.Column)
		} else {
			s += fmt.Sprintf(" at column %d", d.Subject.Start.Column)
		}
	}
	if d.Detail != "" {
		s += ": " + strings.TrimSuffix(d.Detail, ".")
	}
	return s
}

// hclHint says how a value of type t is written on the command line.
func hclHint(t cty.Type) string {
	example := `"text", 3, true, ["a", "b"] or { a = "x" }`
	switch {
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		example = `["a", "b"]`
	case t.IsMapType() || t.IsObjectType():
		example = `{ a = "x", b = "y" }`
	}
	return fmt.Sprintf("Values of type %s are written in HCL syntax, with strings in double quotes: %s.", typeexpr.TypeString(t), example)
}

// undeclaredValues reports values given on the command line or in the
// environment for variables no block declares: a misspelt name would
// otherwise leave the variable at its default without a word.
func (l *Loader) undeclaredValues(blocks []*hcl.Block) hcl.Diagnostics {
	var declared []string
	for _, b := range blocks {
		declared = append(declared, b.Labels[0])
	}
	sort.Strings(declared)
	list := " The loaded files declare no variables."
	if len(declared) > 0 {
		list = " Declared variables: " + strings.Join(declared, ", ") + "."
	}
	var diags hcl.Diagnostics
	for _, name := range sortedKeys(l.Vars) {
		if !contains(declared, name) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value for undeclared variable",
				Detail: fmt.Sprintf("--var sets %q, but no variable block declares it.%s%s", name, DidYouMean(name, declared), list)})
		}
	}
	env := l.env()
	var envNames []string
	for _, name := range declared {
		envNames = append(envNames, EnvPrefix+name)
	}
	for _, key := range sortedKeys(env) {
		name, ok := strings.CutPrefix(key, EnvPrefix)
		if !ok || contains(declared, name) {
			continue
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value for undeclared variable",
			Detail: fmt.Sprintf("The environment variable %s sets %q, but no variable block declares it.%s%s Unset it if it is meant for another station.",
				key, name, DidYouMean(key, envNames), list)})
	}
	return diags
}

// env returns the FLASHPIPE_VAR_ entries of l.Env by name; the first
// entry of a name wins, as with os.Getenv.
func (l *Loader) env() map[string]string {
	out := map[string]string{}
	for _, kv := range l.Env {
		k, v, ok := strings.Cut(kv, "=")
		if _, seen := out[k]; ok && !seen && strings.HasPrefix(k, EnvPrefix) {
			out[k] = v
		}
	}
	return out
}
