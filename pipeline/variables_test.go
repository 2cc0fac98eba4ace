package pipeline_test

import (
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/zclconf/go-cty/cty"
)

// varSource declares variable "v" of the given type ("" for none), without
// a default, so that only the value under test can set it.
func varSource(typ string) string {
	src := "variable \"v\" {\n"
	if typ != "" {
		src += "  type = " + typ + "\n"
	}
	return src + "}\nprofile \"p\" {\n  step \"wipe\" {}\n}\n"
}

// withValue returns a loader that gives variable name the text raw, by
// --var or through the environment.
func withValue(env bool, name, raw string) *pipeline.Loader {
	l := newLoader()
	if env {
		l.Env = []string{"HOME=/root", pipeline.EnvPrefix + name + "=" + raw}
	} else {
		l.Vars = map[string]string{name: raw}
	}
	return l
}

// origins names the two ways of giving a value as text, for subtests.
var origins = []struct {
	name string
	env  bool
}{{"flag", false}, {"env", true}}

// TestVariableText: a value given as text becomes a value of the
// variable's type, the same from --var and from the environment. A
// variable without a type, or of type string, number or bool, takes the
// text itself; any other type (any included) reads it as HCL, as Terraform
// does.
func TestVariableText(t *testing.T) {
	tests := []struct {
		typ, raw string
		want     cty.Value
	}{
		{"", "hello world", cty.StringVal("hello world")},
		{"", `["a"]`, cty.StringVal(`["a"]`)},
		{"string", "1-1.4", cty.StringVal("1-1.4")},
		{"string", `"quoted"`, cty.StringVal(`"quoted"`)},
		{"string", "", cty.StringVal("")},
		{"number", "42", cty.NumberIntVal(42)},
		{"number", "1.5", cty.NumberFloatVal(1.5)},
		{"bool", "true", cty.True},
		{"bool", "false", cty.False},
		{"list(string)", `["1-1.1","1-1.2"]`, cty.ListVal([]cty.Value{cty.StringVal("1-1.1"), cty.StringVal("1-1.2")})},
		{"list(string)", "[]", cty.ListValEmpty(cty.String)},
		{"list(number)", "[1, 2]", cty.ListVal([]cty.Value{cty.NumberIntVal(1), cty.NumberIntVal(2)})},
		{"set(string)", `["b", "a", "b"]`, cty.SetVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")})},
		{"map(number)", "{ a = 1, b = 2 }", cty.MapVal(map[string]cty.Value{"a": cty.NumberIntVal(1), "b": cty.NumberIntVal(2)})},
		{"map(string)", "{\n  hall = \"A\"\n}", cty.MapVal(map[string]cty.Value{"hall": cty.StringVal("A")})},
		{"object({ name = string, port = number })", `{ name = "desk", port = 4 }`,
			cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("desk"), "port": cty.NumberIntVal(4)})},
		{"tuple([string, bool])", `["a", true]`, cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.True})},
		{"any", "3", cty.NumberIntVal(3)},
		{"any", `"text"`, cty.StringVal("text")},
		{"any", `["a", 1]`, cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.NumberIntVal(1)})},
	}
	for _, tt := range tests {
		for _, o := range origins {
			cfg, diags := withValue(o.env, "v", tt.raw).LoadSource("test.hcl", []byte(varSource(tt.typ)))
			if len(diags) > 0 {
				t.Errorf("%s: type %q, value %q: diagnostics:\n%s", o.name, tt.typ, tt.raw, dump(diags))
				continue
			}
			if got := cfg.Vars["v"]; !got.RawEquals(tt.want) {
				t.Errorf("%s: type %q, value %q: var.v = %#v, want %#v", o.name, tt.typ, tt.raw, got, tt.want)
			}
		}
	}
}

// TestVariableTextErrors: a value that does not fit is one error on the
// variable's block that says where the value came from and what is wrong.
func TestVariableTextErrors(t *testing.T) {
	listHint := ` Values of type list(string) are written in HCL syntax, with strings in double quotes: ["a", "b"].`
	tests := []struct {
		typ, raw string
		detail   string // after "ORIGIN=RAW "
	}{
		{"number", "three", "does not fit the variable's type, number: a number is required."},
		{"number", "", "does not fit the variable's type, number: a number is required."},
		{"bool", "yes", "does not fit the variable's type, bool: a bool is required."},
		{"list(string)", `["1-1.1"`, "is not a valid HCL expression: Unterminated tuple constructor expression at column 1: There is no corresponding closing bracket before the end of the file. This may be caused by incorrect bracket nesting elsewhere in this file." + listHint},
		{"list(string)", `["a" "b"]`, "is not a valid HCL expression: Missing item separator at column 6: Expected a comma to mark the beginning of the next item." + listHint},
		{"list(string)", "1-1.1", "does not fit the variable's type, list(string): list of string required, but have number." + listHint},
		{"list(string)", "a,b", "is not a valid HCL expression: Extra characters after expression at column 2: An expression was successfully parsed, but extra characters were found after it." + listHint},
		{"list(string)", "abc", "is not a plain value: Variables not allowed at column 1: Variables may not be used here." + listHint},
		{"map(string)", `["a"]`, `does not fit the variable's type, map(string): map of string required. Values of type map(string) are written in HCL syntax, with strings in double quotes: { a = "x", b = "y" }.`},
		{"object({ name = string, port = number })", `{ name = "x" }`, `does not fit the variable's type, object({name=string,port=number}): attribute "port" is required. Values of type object({name=string,port=number}) are written in HCL syntax, with strings in double quotes: { a = "x", b = "y" }.`},
		{"any", "hello", `is not a plain value: Variables not allowed at column 1: Variables may not be used here. Values of type any are written in HCL syntax, with strings in double quotes: "text", 3, true, ["a", "b"] or { a = "x" }.`},
		{"any", "upper(\"a\")", `is not a plain value: Function calls not allowed at column 1: Functions may not be called here. Values of type any are written in HCL syntax, with strings in double quotes: "text", 3, true, ["a", "b"] or { a = "x" }.`},
	}
	for _, tt := range tests {
		for _, o := range origins {
			_, diags := withValue(o.env, "v", tt.raw).LoadSource("test.hcl", []byte(varSource(tt.typ)))
			want := "--var v=" + tt.raw + " " + tt.detail
			if o.env {
				want = "FLASHPIPE_VAR_v=" + tt.raw + " (from the environment) " + tt.detail
			}
			if len(diags) != 1 || diags[0].Summary != "Invalid variable value" || diags[0].Subject == nil || diags[0].Subject.Start.Line != 1 {
				t.Errorf("%s: type %q, value %q: diagnostics:\n%swant one \"Invalid variable value\" on line 1", o.name, tt.typ, tt.raw, dump(diags))
				continue
			}
			if got := diags[0].Detail; got != want {
				t.Errorf("%s: type %q, value %q: detail =\n  %s\nwant\n  %s", o.name, tt.typ, tt.raw, got, want)
			}
		}
	}
}

// TestUndeclaredVariables: a value for a variable no block declares is an
// error that names where it came from and suggests the declared name; it
// is an error even when the variable it was meant for has a default.
func TestUndeclaredVariables(t *testing.T) {
	const declares = `
variable "customer" {
  default = "acme"
}
variable "event" {
  default = "expo"
}
profile "p" {
  step "wipe" {}
}
`
	tests := []struct {
		name       string
		src        string
		vars       map[string]string
		env        []string
		wantDetail []string
	}{
		{"flag typo", declares, map[string]string{"custmer": "globex"}, nil, []string{
			`--var sets "custmer", but no variable block declares it. Did you mean "customer"? Declared variables: customer, event.`,
		}},
		{"env typo", declares, nil, []string{"FLASHPIPE_VAR_evnt=fair", "FLASHPIPE_VAR_customer=globex"}, []string{
			`The environment variable FLASHPIPE_VAR_evnt sets "evnt", but no variable block declares it. Did you mean "FLASHPIPE_VAR_event"? Declared variables: customer, event. Unset it if it is meant for another station.`,
		}},
		{"both, unlike names", declares, map[string]string{"zone": "a", "event": "fair"}, []string{"FLASHPIPE_VAR_hall=b", "HALL=c"}, []string{
			`--var sets "zone", but no variable block declares it. Declared variables: customer, event.`,
			`The environment variable FLASHPIPE_VAR_hall sets "hall", but no variable block declares it. Declared variables: customer, event. Unset it if it is meant for another station.`,
		}},
		{"no variables", "profile \"p\" {\n  step \"wipe\" {}\n}\n", map[string]string{"event": "fair"}, nil, []string{
			`--var sets "event", but no variable block declares it. The loaded files declare no variables.`,
		}},
	}
	for _, tt := range tests {
		l := newLoader()
		l.Vars, l.Env = tt.vars, tt.env
		_, diags := l.LoadSource("test.hcl", []byte(tt.src))
		var got []string
		for _, d := range diags {
			if d.Summary != "Value for undeclared variable" || d.Subject != nil {
				t.Errorf("%s: unexpected diagnostic %s", tt.name, dump(diags))
				continue
			}
			got = append(got, d.Detail)
		}
		if strings.Join(got, "\n") != strings.Join(tt.wantDetail, "\n") {
			t.Errorf("%s: details =\n  %s\nwant\n  %s", tt.name, strings.Join(got, "\n  "), strings.Join(tt.wantDetail, "\n  "))
		}
	}
}
