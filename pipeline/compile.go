package pipeline

import (
	"fmt"
	"strings"
	"time"

	"github.com/flashpipe/flashpipe/units"
	"github.com/hashicorp/hcl/v2"
)

// compile checks a profile's steps against their kinds' declarations
// (Kind: Repeat, Last, Excludes, Requires, Precedes) and fuses them into
// stages: the steps of Fused kinds become the one write stage, in their
// order; every other step is a stage of its own.
func (l *Loader) compile(cfg *Config, p *Profile) hcl.Diagnostics {
	diags := l.checkOrder(p)
	if diags.HasErrors() {
		return diags
	}
	var write *WriteSpec
	var fused *Stage
	edits := &WriteSpec{}
	for _, sb := range p.Steps {
		cc := &CheckContext{Config: cfg, Profile: p, Block: sb, skipContent: l.SkipContent}
		diags = append(diags, sb.Step.Check(cc)...)
		kind := l.kindOf(sb)
		if kind.Edit {
			if c, ok := sb.Step.(Contributor); ok {
				diags = append(diags, c.Contribute(edits, cc)...)
			}
			if n := len(p.Stages); n > 0 {
				// Its work is the edited stage's: so are its timeout and
				// retries, as a fused step's are the write stage's.
				st := p.Stages[n-1]
				st.Edits = append(st.Edits, sb)
				st.Timeout = minTimeout(st.Timeout, sb.Meta.Timeout)
				st.Retries = max(st.Retries, sb.Meta.Retries)
			}
			continue
		}
		if !kind.Fused {
			p.Stages = append(p.Stages, &Stage{Name: sb.Kind, Steps: []*StepBlock{sb}, Runner: sb.Step.(Runner),
				Timeout: sb.Meta.Timeout, Retries: sb.Meta.Retries, Detaches: kind.Detaches})
			continue
		}
		if write == nil {
			write = &WriteSpec{}
			fused = &Stage{Name: WriteStage}
			p.Stages = append(p.Stages, fused)
		}
		diags = append(diags, sb.Step.(Contributor).Contribute(write, cc)...)
		write.Steps = append(write.Steps, sb)
		fused.Steps = append(fused.Steps, sb)
		fused.Timeout = minTimeout(fused.Timeout, sb.Meta.Timeout)
		fused.Retries = max(fused.Retries, sb.Meta.Retries)
	}
	if write != nil {
		p.Write = write
		if l.Registry.Fuse != nil {
			fused.Runner = l.Registry.Fuse(write)
		}
		if l.Registry.LabelRules != nil {
			diags = append(diags, cfg.checkLabel(write.Label, write.FS, l.Registry.LabelRules)...)
		}
		p.Pools = cfg.writePools(write)
	}
	if len(edits.Files) > 0 {
		p.Pools = sortedKeys(setOf(append(p.Pools, cfg.writePools(edits)...)))
	}
	diags = append(diags, checkStickSize(p)...)
	if l.firstPlaying(p.Steps, []string{RoleWritten}) != nil && l.firstPlaying(p.Steps, []string{RoleVerified}) == nil {
		diags = append(diags, noVerifyWarning(p, l.kindsPlaying(RoleVerified)))
	}
	return diags
}

// writePools returns the pools a write's generated files take rows from,
// sorted.
func (c *Config) writePools(w *WriteSpec) []string {
	seen := map[string]bool{}
	for _, f := range w.Files {
		for _, e := range []hcl.Expression{f.Path, f.Content, f.ContentBase64, f.Mode, f.Mtime} {
			if IsSet(e) {
				for _, n := range c.PoolsUsed(e, f.Dir) {
					seen[n] = true
				}
			}
		}
	}
	if IsSet(w.Label) {
		for _, n := range c.PoolsUsed(w.Label, "") {
			seen[n] = true
		}
	}
	return sortedKeys(seen)
}

// checkOrder checks the order of a profile's steps: no kind twice unless it
// may repeat, nothing after a Last kind, no step beside one it Excludes,
// every Requires met by an earlier step and every Precedes by a later one. A step gets one diagnostic at
// most, and a step out of place for a requirement already reported gets
// none: one diagnostic per cause.
func (l *Loader) checkOrder(p *Profile) hcl.Diagnostics {
	var diags hcl.Diagnostics
	flagged := map[*StepBlock]bool{}
	first := map[string]*StepBlock{}
	var last *StepBlock
	for _, sb := range p.Steps {
		kind := l.kindOf(sb)
		switch prev, ok := first[sb.Kind]; {
		case ok && !kind.Repeat:
			diags = append(diags, errAt(sb.TypeRange, fmt.Sprintf("Duplicate %s step", sb.Kind),
				fmt.Sprintf("A profile has at most one %q step; the first is at %s.", sb.Kind, prev.DeclRange)))
			flagged[sb] = true
		case last != nil:
			diags = append(diags, errAt(sb.TypeRange, fmt.Sprintf("Step after %s", last.Kind),
				fmt.Sprintf("step %q comes after step %q (at %s); %s must be the last step.", sb.Kind, last.Kind, last.DeclRange, last.Kind)))
			flagged[sb] = true
		case !ok:
			first[sb.Kind] = sb
		}
		if kind.Last && last == nil {
			last = sb
		}
	}
	for _, sb := range p.Steps {
		if !flagged[sb] {
			diags = append(diags, l.checkExcludes(p, sb, flagged)...)
		}
	}
	for _, sb := range p.Steps {
		if !flagged[sb] {
			diags = append(diags, l.checkRequires(p, sb, flagged)...)
		}
	}
	for _, sb := range p.Steps {
		if !flagged[sb] {
			diags = append(diags, l.checkPrecedes(p, sb, flagged)...)
		}
	}
	return diags
}

// checkExcludes reports the steps that may not share a profile with sb:
// each on its own line, flagged.
func (l *Loader) checkExcludes(p *Profile, sb *StepBlock, flagged map[*StepBlock]bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, ex := range l.kindOf(sb).Excludes {
		for _, o := range p.Steps {
			if o == sb || flagged[o] || !l.kindOf(o).playsAny(ex.Roles) {
				continue
			}
			flagged[o] = true
			diags = append(diags, errAt(o.TypeRange, fmt.Sprintf("Step %q cannot be combined with step %q", o.Kind, sb.Kind),
				fmt.Sprintf("step %q (at %s) and step %q are in one profile: %s", sb.Kind, sb.DeclRange, o.Kind, ex.Why)))
		}
	}
	return diags
}

// checkRequires reports the first requirement of sb's kind that no
// earlier step meets. A step that would meet it but comes later is named
// in the diagnostic and flagged, so it gets no second one.
func (l *Loader) checkRequires(p *Profile, sb *StepBlock, flagged map[*StepBlock]bool) hcl.Diagnostics {
	for _, req := range l.kindOf(sb).Requires {
		if l.firstPlaying(p.Steps[:sb.Index], req.Roles) != nil {
			continue
		}
		detail := req.Why
		if later := l.firstPlaying(p.Steps[sb.Index+1:], req.Roles); later != nil {
			detail = fmt.Sprintf("Step %q (at %s) comes after it. %s", later.Kind, later.DeclRange, req.Why)
			flagged[later] = true
		}
		flagged[sb] = true
		return hcl.Diagnostics{errAt(sb.TypeRange, fmt.Sprintf("Step %q needs %s before it", sb.Kind, req.What), detail)}
	}
	return nil
}

// checkPrecedes reports a step of sb's kind that comes after a step it
// must precede.
func (l *Loader) checkPrecedes(p *Profile, sb *StepBlock, flagged map[*StepBlock]bool) hcl.Diagnostics {
	for _, ord := range l.kindOf(sb).Precedes {
		if a := l.firstPlaying(p.Steps[:sb.Index], ord.Roles); a != nil {
			flagged[sb] = true
			return hcl.Diagnostics{errAt(sb.TypeRange, "Step out of order",
				fmt.Sprintf("step %q must come before step %q (at %s): %s", sb.Kind, a.Kind, a.DeclRange, ord.Why))}
		}
	}
	return nil
}

// kindOf returns the kind whose rules apply to sb: its kind's, or the
// one its kind's Edits returns for it.
func (l *Loader) kindOf(sb *StepBlock) *Kind {
	k := l.Registry.Kinds[sb.Kind]
	if k.Edits != nil && sb.Step != nil {
		if e := k.Edits(sb.Step); e != nil {
			return e
		}
	}
	return k
}

// setOf returns the set of names.
func setOf(names []string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// firstPlaying returns the first of steps whose kind plays one of roles,
// or nil.
func (l *Loader) firstPlaying(steps []*StepBlock, roles []string) *StepBlock {
	for _, s := range steps {
		if l.kindOf(s).playsAny(roles) {
			return s
		}
	}
	return nil
}

// checkStickSize refuses a profile whose match admits sticks smaller than
// a step needs (an image larger than the match's minimum size): every such
// stick would fail.
func checkStickSize(p *Profile) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, sb := range p.Steps {
		n, ok := sb.Step.(SizeNeeder)
		if !ok || p.Match.MinSize <= 0 {
			continue
		}
		if need := n.MinStickSize(); need > p.Match.MinSize {
			diags = append(diags, errAt(sb.TypeRange, "Sticks the profile matches are too small",
				fmt.Sprintf("step %q needs sticks of at least %s, but profile %q matches sticks from %s: raise the match's size.",
					sb.Kind, units.Exact(need), p.Name, units.Exact(p.Match.MinSize))))
		}
	}
	return diags
}

// noVerifyWarning warns about a profile that writes sticks without reading
// them back: its sticks end "unverified", never done. verifiers names the
// kinds that would read them back. A profile that writes nothing a verify
// step could read (wipe only) is not warned about.
func noVerifyWarning(p *Profile, verifiers []string) *hcl.Diagnostic {
	kinds := make([]string, len(p.Steps))
	for i, sb := range p.Steps {
		kinds[i] = sb.Kind
	}
	add := make([]string, len(verifiers))
	for i, k := range verifiers {
		add[i] = fmt.Sprintf("step %q {}", k)
	}
	return warnAt(p.DeclRange, "Profile does not verify",
		fmt.Sprintf("profile %q runs %s but no step that reads back what it wrote, so its sticks end \"unverified\" (written, not read back) in receipts, logs and on the board, never \"done\". Add %s after the steps that write.",
			p.Name, strings.Join(kinds, ", "), strings.Join(add, " or ")))
}

// kindsPlaying returns the names of the kinds that play role, sorted.
func (l *Loader) kindsPlaying(role string) []string {
	var out []string
	for _, n := range l.Registry.Names() {
		if l.Registry.Kinds[n].plays(role) {
			out = append(out, n)
		}
	}
	return out
}

// minTimeout returns the smaller of two timeouts, where 0 means none.
func minTimeout(a, b time.Duration) time.Duration {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}
