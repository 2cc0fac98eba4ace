package pipeline

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/flashpipe/flashpipe/matchers"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "station"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "source", LabelNames: []string{"name"}},
		{Type: "pool", LabelNames: []string{"name"}},
		{Type: "profile", LabelNames: []string{"name"}},
	},
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "type"}, {Name: "default"}, {Name: "description"}},
}

var profileSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "priority"}, {Name: "min_write_mbps"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "match"},
		{Type: "step", LabelNames: []string{"kind"}},
	},
}

// decode runs the decode and compile phases over parsed files.
func (l *Loader) decode(files []*hcl.File, names []string) (*Config, hcl.Diagnostics) {
	cfg := &Config{
		Files:   names,
		Vars:    map[string]cty.Value{},
		Locals:  map[string]cty.Value{},
		Sources: map[string]*SourceBlock{},
		Pools:   map[string]*PoolBlock{},
		src:     map[string][]byte{},
	}
	for i, f := range files {
		cfg.src[names[i]] = f.Bytes
	}
	var diags hcl.Diagnostics
	var stations, variables, locals, sources, pools, profiles []*hcl.Block
	for _, f := range files {
		content, d := f.Body.Content(fileSchema)
		diags = append(diags, d...)
		for _, b := range content.Blocks {
			switch b.Type {
			case "station":
				stations = append(stations, b)
			case "variable":
				variables = append(variables, b)
			case "locals":
				locals = append(locals, b)
			case "source":
				sources = append(sources, b)
			case "pool":
				pools = append(pools, b)
			case "profile":
				profiles = append(profiles, b)
			}
		}
	}
	diags = append(diags, l.decodeVariables(cfg, variables)...)
	for _, b := range variables {
		if _, ok := cfg.Vars[b.Labels[0]]; !ok && hclIdent(b.Labels[0]) {
			// Every use of a variable without a value would be one more
			// error saying the same thing: stop here, as Terraform does.
			cfg.Station = &StationBlock{}
			return cfg, diags
		}
	}
	diags = append(diags, decodeLocals(cfg, locals)...)
	diags = append(diags, l.decodeSources(cfg, sources)...)
	diags = append(diags, decodeStation(cfg, stations)...)
	diags = append(diags, l.decodePools(cfg, pools)...)
	diags = append(diags, l.decodeProfiles(cfg, profiles)...)
	return cfg, dropUnknownCascades(diags)
}

// decodeLocals evaluates locals in dependency order: each pass evaluates
// the locals whose references are all known; what remains is a cycle or
// depends on one. A local that fails (its own error, or a cycle) gets an
// unknown value, so its uses add no errors of their own.
func decodeLocals(cfg *Config, blocks []*hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	pending := map[string]*hcl.Attribute{}
	for _, b := range blocks {
		attrs, d := b.Body.JustAttributes()
		diags = append(diags, d...)
		for name, a := range attrs {
			if prev, ok := pending[name]; ok {
				diags = append(diags, errAt(a.NameRange, "Duplicate local value",
					fmt.Sprintf("local.%s was already defined at %s.", name, prev.NameRange)))
				continue
			}
			pending[name] = a
		}
	}
	for len(pending) > 0 {
		progress := false
		for _, name := range sortedKeys(pending) {
			a := pending[name]
			if len(localDeps(a.Expr, pending)) > 0 {
				continue
			}
			cfg.static = nil
			v, d := a.Expr.Value(cfg.staticContext())
			diags = append(diags, d...)
			if d.HasErrors() {
				v = cty.DynamicVal
			}
			cfg.Locals[name] = v
			delete(pending, name)
			progress = true
		}
		if !progress {
			diags = append(diags, localCycles(pending)...)
			for name := range pending {
				cfg.Locals[name] = cty.DynamicVal
			}
			break
		}
	}
	cfg.static = nil
	return diags
}

// localDeps returns the pending locals expr refers to.
func localDeps(expr hcl.Expression, pending map[string]*hcl.Attribute) []string {
	var deps []string
	for _, tr := range expr.Variables() {
		if tr.RootName() != "local" || len(tr) < 2 {
			continue
		}
		if a, ok := tr[1].(hcl.TraverseAttr); ok {
			if _, waiting := pending[a.Name]; waiting {
				deps = append(deps, a.Name)
			}
		}
	}
	return deps
}

// localCycles reports each pending local that is on a cycle. The others
// only depend on one: the cycle's errors explain them.
func localCycles(pending map[string]*hcl.Attribute) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range sortedKeys(pending) {
		seen := map[string]bool{}
		next := localDeps(pending[name].Expr, pending)
		for len(next) > 0 && !seen[name] {
			n := next[0]
			next = next[1:]
			if !seen[n] {
				seen[n] = true
				next = append(next, localDeps(pending[n].Expr, pending)...)
			}
		}
		if seen[name] {
			a := pending[name]
			diags = append(diags, errAt(a.Expr.Range(), "Local value cycle",
				fmt.Sprintf("local.%s refers, directly or through other locals, to itself.", name)))
		}
	}
	return diags
}

func (l *Loader) decodeSources(cfg *Config, blocks []*hcl.Block) hcl.Diagnostics {
	blocks, diags := distinct("source", blocks, hclIdent)
	for _, b := range blocks {
		name := b.Labels[0]
		// Sources reference only variables and locals.
		cfg.static = nil
		s := SourceBlock{Name: name, DeclRange: b.DefRange}
		attrs, d := decodeBody(b.Body, cfg.staticContext(), &s)
		diags = append(diags, d...)
		if d.HasErrors() {
			// Still declared: a copy step that names it is not wrong,
			// and saying "no source block named" there would be false.
			cfg.Sources[name] = &SourceBlock{Name: name, DeclRange: b.DefRange}
			continue
		}
		if len(s.Paths) == 0 {
			diags = append(diags, errAt(b.DefRange, "Source without paths", fmt.Sprintf("source %q needs at least one path in paths = [...].", name)))
		}
		s.Paths = ResolvePaths(b.DefRange.Filename, s.Paths)
		diags = append(diags, checkGlobs(s.Include, rangeOf(attrs, "include", b.DefRange))...)
		diags = append(diags, checkGlobs(s.Exclude, rangeOf(attrs, "exclude", b.DefRange))...)
		if !l.SkipContent && attrs["paths"] != nil {
			diags = append(diags, missingPaths(s.Paths, attrs["paths"].Expr)...)
		}
		cfg.Sources[name] = &s
	}
	cfg.static = nil
	return diags
}

// ResolvePaths makes paths absolute relative to the declaring file's
// directory.
func ResolvePaths(file string, paths []string) []string {
	base := filepath.Dir(file)
	out := make([]string, len(paths))
	for i, p := range paths {
		if !filepath.IsAbs(p) {
			p = filepath.Join(base, p)
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		out[i] = p
	}
	return out
}

// CheckGlob returns an error for a pattern doublestar cannot use.
func CheckGlob(p string) error {
	if p == "" {
		return fmt.Errorf("the pattern is empty")
	}
	if !doublestar.ValidatePattern(p) {
		return fmt.Errorf("%q is not a valid glob pattern (check [ ] and { } pairs and escapes)", p)
	}
	return nil
}

func checkGlobs(patterns []string, at hcl.Range) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, p := range patterns {
		if err := CheckGlob(p); err != nil {
			diags = append(diags, errAt(at, "Invalid glob pattern", err.Error()+". Patterns use doublestar syntax: * within a folder, ** across folders, e.g. \"**/*.jpg\"."))
		}
	}
	return diags
}

func decodeStation(cfg *Config, blocks []*hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	st := &StationBlock{}
	for i, b := range blocks {
		if i > 0 {
			diags = append(diags, errAt(b.DefRange, "Duplicate station block",
				fmt.Sprintf("Only one station block is allowed across all files; the first is at %s.", blocks[0].DefRange)))
			continue
		}
		attrs, d := decodeBody(b.Body, cfg.staticContext(), st)
		diags = append(diags, d...)
		st.DeclRange = b.DefRange
		diags = append(diags, checkBuses(st.AllowBuses, rangeOf(attrs, "allow_buses", b.DefRange))...)
		diags = append(diags, checkGlobs(st.Ports, rangeOf(attrs, "ports", b.DefRange))...)
		if st.Concurrency < 0 {
			diags = append(diags, errAt(rangeOf(attrs, "concurrency", b.DefRange), "Invalid concurrency", "concurrency must be 1 or more (0 means the default)."))
		}
		if st.GraceRaw != "" {
			d, err := time.ParseDuration(st.GraceRaw)
			if err != nil || d < 0 {
				diags = append(diags, errAt(rangeOf(attrs, "grace", b.DefRange), "Invalid duration", fmt.Sprintf("grace = %q: use a duration such as \"90s\" or \"2m\".", st.GraceRaw)))
			}
			st.Grace = d
		}
	}
	if st.Name == "" {
		st.Name = DefaultStationName
	}
	if st.Concurrency == 0 {
		st.Concurrency = DefaultConcurrency
	}
	if len(st.AllowBuses) == 0 {
		st.AllowBuses = matchers.DefaultBuses()
	}
	if st.GraceRaw == "" {
		st.Grace = DefaultGrace
	}
	if st.Receipts == "" {
		st.Receipts = DefaultReceipts
	} else if len(blocks) > 0 && !filepath.IsAbs(st.Receipts) {
		st.Receipts = ResolvePaths(blocks[0].DefRange.Filename, []string{st.Receipts})[0]
	}
	if st.LogFile != "" && len(blocks) > 0 && !filepath.IsAbs(st.LogFile) {
		st.LogFile = ResolvePaths(blocks[0].DefRange.Filename, []string{st.LogFile})[0]
	}
	if st.ImageCache != "" && len(blocks) > 0 && !filepath.IsAbs(st.ImageCache) {
		st.ImageCache = ResolvePaths(blocks[0].DefRange.Filename, []string{st.ImageCache})[0]
	}
	cfg.Station = st
	return diags
}

func (l *Loader) decodeProfiles(cfg *Config, blocks []*hcl.Block) hcl.Diagnostics {
	blocks, diags := distinct("profile", blocks, func(name string) bool { return name != "" })
	for _, b := range blocks {
		p, d := l.decodeProfile(cfg, b)
		diags = append(diags, d...)
		if p != nil {
			cfg.Profiles = append(cfg.Profiles, p)
		}
	}
	sort.SliceStable(cfg.Profiles, func(i, j int) bool {
		if cfg.Profiles[i].Priority != cfg.Profiles[j].Priority {
			return cfg.Profiles[i].Priority > cfg.Profiles[j].Priority
		}
		return cfg.Profiles[i].Name < cfg.Profiles[j].Name
	})
	diags = append(diags, overlapWarnings(cfg.Profiles)...)
	return diags
}

func (l *Loader) decodeProfile(cfg *Config, b *hcl.Block) (*Profile, hcl.Diagnostics) {
	p := &Profile{Name: b.Labels[0], DeclRange: b.DefRange}
	content, diags := b.Body.Content(profileSchema)
	ctx := cfg.staticContext()
	if a, ok := content.Attributes["priority"]; ok {
		diags = append(diags, decodeAttr(a, ctx, &p.Priority)...)
	}
	if a, ok := content.Attributes["min_write_mbps"]; ok {
		d := decodeAttr(a, ctx, &p.MinWriteMBps)
		diags = append(diags, d...)
		if !d.HasErrors() && p.MinWriteMBps < 0 {
			diags = append(diags, errAt(a.Expr.Range(), "Invalid minimum write rate", "min_write_mbps is a rate in MB/s (10^6 bytes per second), 0 or more; 0 means no minimum."))
		}
	}
	var matches []*hcl.Block
	stepBlocks := 0
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "match":
			matches = append(matches, blk)
		case "step":
			stepBlocks++
			sb, d := l.decodeStep(cfg, blk, len(p.Steps))
			diags = append(diags, d...)
			if sb != nil {
				p.Steps = append(p.Steps, sb)
			}
		}
	}
	for i, m := range matches {
		if i > 0 {
			diags = append(diags, errAt(m.DefRange, "Duplicate match block", "A profile has at most one match block; put every condition in it."))
			continue
		}
		rule, src, d := l.decodeMatch(cfg, m)
		diags = append(diags, d...)
		p.Match, p.MatchSrc = rule, src
	}
	if stepBlocks == 0 {
		var kinds []string
		for _, k := range l.Registry.Names() {
			kinds = append(kinds, fmt.Sprintf("step %q {}", k))
		}
		diags = append(diags, errAt(b.DefRange, "Profile without steps",
			fmt.Sprintf("profile %q has no step blocks. Step kinds: %s.", p.Name, strings.Join(kinds, ", "))))
		return p, diags
	}
	if diags.HasErrors() {
		return p, diags
	}
	diags = append(diags, l.compile(cfg, p)...)
	return p, diags
}

// decodeStep decodes a step block's meta-arguments, then the rest of its
// body into the kind's own struct.
func (l *Loader) decodeStep(cfg *Config, blk *hcl.Block, index int) (*StepBlock, hcl.Diagnostics) {
	kindName := blk.Labels[0]
	sb := &StepBlock{Kind: kindName, Index: index, DeclRange: blk.DefRange}
	if len(blk.LabelRanges) > 0 {
		sb.TypeRange = blk.LabelRanges[0]
	}
	kind, ok := l.Registry.Kinds[kindName]
	if !ok {
		names := l.Registry.Names()
		return nil, hcl.Diagnostics{errAt(sb.TypeRange, "Unknown step kind",
			fmt.Sprintf("There is no step kind %q.%s Valid kinds: %s.", kindName, DidYouMean(kindName, names), strings.Join(names, ", ")))}
	}
	ctx := cfg.staticContext()
	meta, diags := decodeBody(blk.Body, ctx, &sb.Meta)
	if sb.Meta.Rest == nil {
		return sb, diags
	}
	if sb.Meta.TimeoutRaw != "" {
		d, err := time.ParseDuration(sb.Meta.TimeoutRaw)
		if err != nil || d <= 0 {
			diags = append(diags, errAt(rangeOf(meta, "timeout", blk.DefRange), "Invalid duration",
				fmt.Sprintf("timeout = %q: use a positive duration such as \"90s\", \"10m\" or \"1h30m\".", sb.Meta.TimeoutRaw)))
		}
		sb.Meta.Timeout = d
	}
	if sb.Meta.Retries < 0 {
		diags = append(diags, errAt(rangeOf(meta, "retries", blk.DefRange), "Invalid retries", "retries must be 0 or more."))
	}
	step := kind.New()
	attrs, d := decodeBody(sb.Meta.Rest, ctx, step)
	sb.Step, sb.Attrs = step, attrs
	return sb, append(diags, d...)
}

// duplicate reports a block declared twice.
// distinct returns the blocks of one kind to decode: a block whose name
// (first label) an earlier block already has, or that valid rejects, is
// reported and left out.
func distinct(kind string, blocks []*hcl.Block, valid func(string) bool) ([]*hcl.Block, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var out []*hcl.Block
	seen := map[string]*hcl.Block{}
	for _, b := range blocks {
		name := b.Labels[0]
		if prev, ok := seen[name]; ok {
			diags = append(diags, duplicate(kind, name, b, prev))
			continue
		}
		seen[name] = b
		if !valid(name) {
			diags = append(diags, badName(kind, name, b))
			continue
		}
		out = append(out, b)
	}
	return out, diags
}

func duplicate(kind, name string, b, prev *hcl.Block) *hcl.Diagnostic {
	r := b.DefRange
	if len(b.LabelRanges) > 0 {
		r = b.LabelRanges[0]
	}
	return errAt(r, fmt.Sprintf("Duplicate %s %q", kind, name),
		fmt.Sprintf("A %s named %q was already declared at %s. Names must be unique across all loaded files.", kind, name, prev.DefRange))
}

func badName(kind, name string, b *hcl.Block) *hcl.Diagnostic {
	r := b.DefRange
	if len(b.LabelRanges) > 0 {
		r = b.LabelRanges[0]
	}
	return errAt(r, fmt.Sprintf("Invalid %s name", kind),
		fmt.Sprintf("%q is not a valid %s name: use letters, digits, underscores and dashes, starting with a letter.", name, kind))
}

// hclIdent reports whether s is a valid block name: an HCL identifier.
func hclIdent(s string) bool { return hclsyntax.ValidIdentifier(s) }

func errAt(r hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: r.Ptr()}
}

func warnAt(r hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: detail, Subject: r.Ptr()}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// decodeBody decodes body into val with gohcl and returns the attributes
// it decoded, so that a later check can put its diagnostic on an
// attribute's value (rangeOf) without scanning the body again. Its
// diagnostics name the attribute (see nameAttr).
func decodeBody(body hcl.Body, ctx *hcl.EvalContext, val any) (hcl.Attributes, hcl.Diagnostics) {
	schema, partial := gohcl.ImpliedBodySchema(val)
	var content *hcl.BodyContent
	if partial {
		content, _, _ = body.PartialContent(schema)
	} else {
		content, _ = body.Content(schema)
	}
	// gohcl reads the same content and reports the same problems with it.
	diags := gohcl.DecodeBody(body, ctx, val)
	for name, a := range content.Attributes {
		diags = nameAttr(diags, name, a.Expr)
	}
	return content.Attributes, diags
}

// rangeOf is where a diagnostic about attribute name goes: its value, or,
// when it was not written, fallback (the block's header).
func rangeOf(attrs hcl.Attributes, name string, fallback hcl.Range) hcl.Range {
	if a, ok := attrs[name]; ok {
		return a.Expr.Range()
	}
	return fallback
}

// decodeAttr is gohcl.DecodeExpression for one attribute, with
// diagnostics that name it.
func decodeAttr(a *hcl.Attribute, ctx *hcl.EvalContext, val any) hcl.Diagnostics {
	return nameAttr(gohcl.DecodeExpression(a.Expr, ctx, val), a.Name, a.Expr)
}

// nameAttr rewrites gohcl's "Unsuitable value type" diagnostics on expr,
// which do not say which attribute is wrong ("Unsuitable value: a number is
// required"), in Terraform's words: `Inappropriate value for attribute
// "retries": a number is required.`
func nameAttr(diags hcl.Diagnostics, name string, expr hcl.Expression) hcl.Diagnostics {
	for i, d := range diags {
		if d.Summary != "Unsuitable value type" || isUnknownCascade(d) || d.Context == nil || *d.Context != expr.Range() {
			continue
		}
		named := *d
		named.Summary = "Incorrect attribute value type"
		named.Detail = fmt.Sprintf("Inappropriate value for attribute %q: %s.", name, strings.TrimPrefix(d.Detail, "Unsuitable value: "))
		diags[i] = &named
	}
	return diags
}

// isUnknownCascade reports gohcl's error for a value that is not known.
// In the static context every value is known except the result of an
// expression that failed, whose own error is reported: an undefined
// reference, or a local whose definition failed (kept as an unknown value,
// so that its uses add nothing to the error where it is defined). Such an
// error still counts while decoding, so that nothing is checked or compiled
// from the zero value it leaves; dropUnknownCascades removes it at the end.
func isUnknownCascade(d *hcl.Diagnostic) bool {
	return d.Summary == "Unsuitable value type" && strings.HasSuffix(d.Detail, "value must be known")
}

// dropUnknownCascades drops the errors isUnknownCascade describes, unless
// nothing else explains the failure.
func dropUnknownCascades(diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range diags {
		if !isUnknownCascade(d) {
			out = append(out, d)
		}
	}
	if !out.HasErrors() {
		return diags
	}
	return out
}
