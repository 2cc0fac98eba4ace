package pipeline_test

import (
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flashpipe/flashpipe/matchers"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty/convert"
)

// hclAttr is one attribute a Go struct decodes, found by its hcl tag.
type hclAttr struct {
	name     string
	required bool
}

// hclAttrs returns the attributes of v's struct type (v may be a pointer):
// every field tagged `hcl:"name"`, `hcl:"name,attr"` or
// `hcl:"name,optional"`. Labels, blocks and remain fields are left out.
func hclAttrs(v any) []hclAttr {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []hclAttr
	for i := range t.NumField() {
		tag, ok := t.Field(i).Tag.Lookup("hcl")
		if !ok || tag == "-" {
			continue
		}
		name, kind, _ := strings.Cut(tag, ",")
		switch kind {
		case "", "attr":
			out = append(out, hclAttr{name, true})
		case "optional":
			out = append(out, hclAttr{name, false})
		}
	}
	return out
}

// schemaAttrs returns a hand-written schema's attributes.
func schemaAttrs(s *hcl.BodySchema) []hclAttr {
	var out []hclAttr
	for _, a := range s.Attributes {
		out = append(out, hclAttr{a.Name, a.Required})
	}
	return out
}

// docRow is one row of an attribute table in docs/config.md.
type docRow struct {
	typ, def string
}

var (
	headingRE = regexp.MustCompile("^#{2,4} (.+)$")
	rowRE     = regexp.MustCompile("^\\| `([a-z_0-9]+)` \\| ([^|]*) \\| ([^|]*) \\|")
)

// readDocs splits docs/config.md into sections by heading and returns each
// section's attribute table rows, and the whole text.
func readDocs(t *testing.T) (map[string]map[string]docRow, string) {
	t.Helper()
	src, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatalf("reading the configuration reference: %v", err)
	}
	sections := map[string]map[string]docRow{}
	cur := ""
	for _, line := range strings.Split(string(src), "\n") {
		if m := headingRE.FindStringSubmatch(line); m != nil {
			cur = strings.TrimSpace(m[1])
			sections[cur] = map[string]docRow{}
			continue
		}
		if m := rowRE.FindStringSubmatch(line); m != nil && cur != "" {
			sections[cur][m[1]] = docRow{strings.TrimSpace(m[2]), strings.TrimSpace(m[3])}
		}
	}
	return sections, string(src)
}

// TestDocsCoverSchemas walks every block's Go schema and requires
// docs/config.md to have a row for each attribute in that block's section
// (with "required" as the default exactly when the attribute is
// required), and no row for an attribute that does not exist.
func TestDocsCoverSchemas(t *testing.T) {
	sections, _ := readDocs(t)
	schemas := map[string][]hclAttr{
		"station":         hclAttrs(pipeline.StationBlock{}),
		`source "NAME"`:   hclAttrs(pipeline.SourceBlock{}),
		`pool "NAME"`:     hclAttrs(pipeline.PoolBlock{}),
		"match":           hclAttrs(pipeline.MatchBlock{}),
		"Meta-arguments":  hclAttrs(pipeline.StepMeta{}),
		`variable "NAME"`: schemaAttrs(pipeline.VariableSchema),
		`profile "NAME"`:  schemaAttrs(pipeline.ProfileSchema),
	}
	reg := newLoader().Registry
	for _, kind := range reg.Names() {
		schemas[`step "`+kind+`"`] = hclAttrs(reg.Kinds[kind].New())
	}
	for _, b := range pipeline.FileSchema.Blocks {
		h := b.Type
		if len(b.LabelNames) > 0 {
			h += ` "NAME"`
		}
		if _, ok := sections[h]; !ok {
			t.Errorf("docs/config.md has no section %q for the top-level block %s", h, b.Type)
		}
	}
	for _, b := range pipeline.ProfileSchema.Blocks {
		h := b.Type
		if len(b.LabelNames) > 0 {
			h += ` "KIND"`
		}
		if _, ok := sections[h]; !ok {
			t.Errorf("docs/config.md has no section %q for the profile's %s block", h, b.Type)
		}
	}
	for section, attrs := range schemas {
		rows, ok := sections[section]
		if !ok {
			t.Errorf("docs/config.md has no section %q", section)
			continue
		}
		seen := map[string]bool{}
		for _, a := range attrs {
			seen[a.name] = true
			row, ok := rows[a.name]
			if !ok {
				t.Errorf("docs/config.md section %q has no row for attribute %q", section, a.name)
				continue
			}
			if a.required != (row.def == "required") {
				t.Errorf("docs/config.md %q %q default = %q, want \"required\" only for a required attribute (required: %v)", section, a.name, row.def, a.required)
			}
			if row.typ == "" {
				t.Errorf("docs/config.md %q %q has no type", section, a.name)
			}
		}
		for name := range rows {
			if !seen[name] {
				t.Errorf("docs/config.md section %q documents %q, which the schema does not have", section, name)
			}
		}
	}
}

// TestDocsCoverExpressions requires every device, job and station
// attribute and every function to be named in docs/config.md.
func TestDocsCoverExpressions(t *testing.T) {
	_, text := readDocs(t)
	var want []string
	for _, n := range typeAttrNames(pipeline.DeviceType.AttributeTypes()) {
		want = append(want, "`device."+n+"`")
	}
	for _, n := range typeAttrNames(pipeline.JobType.AttributeTypes()) {
		want = append(want, "`job."+n+"`")
	}
	for _, n := range typeAttrNames(pipeline.StationType.AttributeTypes()) {
		want = append(want, "`station."+n+"`")
	}
	want = append(want, "`now`", "`var.", "`local.", "`source.")
	for _, f := range slices.Sorted(maps.Keys(pipeline.Functions())) {
		want = append(want, "`"+f+"(")
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("docs/config.md does not mention %s", w)
		}
	}
}

func typeAttrNames[T any](m map[string]T) []string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var sizeRowRE = regexp.MustCompile("^\\| `\"([^`]+)\"` \\| ([^|]+) \\| [^|]+ \\|$")

// TestDocsSizeTable parses every size in the table of docs/config.md's
// "Sizes as sticks are sold" and requires the bounds it documents.
func TestDocsSizeTable(t *testing.T) {
	_, text := readDocs(t)
	_, section, _ := strings.Cut(text, "#### Sizes as sticks are sold")
	section, _, _ = strings.Cut(section, "\n### ")
	n := 0
	for _, line := range strings.Split(section, "\n") {
		m := sizeRowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n++
		r, err := matchers.ParseSizeRange(m[1])
		if got := r.String(); err != nil || got != strings.TrimSpace(m[2]) {
			t.Errorf("docs/config.md: ParseSizeRange(%q) = %q, %v; the table says %q", m[1], got, err, strings.TrimSpace(m[2]))
		}
	}
	if n < 5 {
		t.Errorf("docs/config.md size table has %d rows, want at least 5", n)
	}
}

var fnRowRE = regexp.MustCompile("^\\| `[a-z_]+\\([^`]*\\)` \\| `([^`]+)` \\| `([^`]+)` \\|$")

// TestDocsFunctionExamples evaluates every function example in
// docs/config.md whose result column is a plain value, for job 7 at
// 2026-05-01T11:00:00Z, and requires the documented result.
func TestDocsFunctionExamples(t *testing.T) {
	_, text := readDocs(t)
	cfg, diags := newLoader().LoadSource("docs.hcl", []byte("variable \"prefix\" {\n  default = \"EXPO\"\n}\nprofile \"p\" {\n  step \"wipe\" {}\n}\n"))
	if diags.HasErrors() {
		t.Fatal(dump(diags))
	}
	ctx := cfg.DeviceContext(&matchers.Device{Serial: "4C53"}, "/dev/sdb", 7, time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC))
	n := 0
	for _, line := range strings.Split(text, "\n") {
		m := fnRowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n++
		t.Logf("%s = %s", m[1], m[2])
		expr, d := hclsyntax.ParseExpression([]byte(m[1]), "example", hcl.InitialPos)
		if d.HasErrors() {
			t.Errorf("docs example %s does not parse: %s", m[1], d.Error())
			continue
		}
		got, d := expr.Value(ctx)
		if d.HasErrors() {
			t.Errorf("docs example %s: %s", m[1], d.Error())
			continue
		}
		wexpr, d := hclsyntax.ParseExpression([]byte(m[2]), "result", hcl.InitialPos)
		if d.HasErrors() {
			t.Errorf("docs result %s does not parse: %s", m[2], d.Error())
			continue
		}
		want, _ := wexpr.Value(nil)
		if cw, err := convert.Convert(want, got.Type()); err == nil {
			want = cw // ["a", "b"] is a tuple; split gives a list
		}
		if !got.Equals(want).True() {
			t.Errorf("docs example %s = %#v, want %#v as documented", m[1], got, want)
		}
	}
	if n < 15 {
		t.Errorf("checked %d function examples in docs/config.md, want at least 15", n)
	}
}

// TestDocsSnippets: every ```hcl block in docs/config.md parses and is
// formatted as `flashpipe fmt` would write it; the first, a complete
// station, loads clean.
func TestDocsSnippets(t *testing.T) {
	_, text := readDocs(t)
	parts := strings.Split(text, "```hcl\n")
	if len(parts) < 10 {
		t.Fatalf("docs/config.md has %d hcl blocks, want at least 10", len(parts)-1)
	}
	for i, p := range parts[1:] {
		block, _, ok := strings.Cut(p, "```")
		if !ok {
			t.Errorf("hcl block %d is not closed", i+1)
			continue
		}
		if _, d := hclsyntax.ParseConfig([]byte(block), "docs", hcl.InitialPos); d.HasErrors() {
			t.Errorf("hcl block %d does not parse: %s\n%s", i+1, d.Error(), block)
		}
		if f := string(hclwrite.Format([]byte(block))); f != block {
			t.Errorf("hcl block %d is not formatted; fmt gives:\n%s", i+1, f)
		}
	}
	first, _, _ := strings.Cut(parts[1], "```")
	dir := t.TempDir()
	if err := os.MkdirAll(dir+"/content/docs", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/station.hcl", []byte(first), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, diags := newLoader().LoadFiles([]string{dir + "/station.hcl"}); len(diags) > 0 {
		t.Errorf("the first example in docs/config.md:\n%s", dump(diags))
	}
}
