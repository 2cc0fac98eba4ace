package pipeline

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// compile checks a profile's steps and fuses them into stages.
//
// Ordering rules: wipe comes before everything it would erase; partition
// before mkfs (a superfloppy says partition { table = "none" }); a
// filesystem before copy and label; copy before verify; eject last. Each
// kind appears once, except copy.
func (l *Loader) compile(cfg *Config, p *Profile) hcl.Diagnostics {
	var diags hcl.Diagnostics
	first := map[Role]*StepBlock{}
	var maxRole Role
	var maxStep, eject *StepBlock
	for _, sb := range p.Steps {
		kind := l.Registry.Kinds[sb.Kind]
		role := kind.Role
		if prev, ok := first[role]; ok && !kind.Multiple {
			diags = append(diags, errAt(sb.TypeRange, fmt.Sprintf("Duplicate %s step", sb.Kind),
				fmt.Sprintf("A profile has at most one %q step; the first is at %s.", sb.Kind, prev.DeclRange)))
			continue
		}
		if _, ok := first[role]; !ok {
			first[role] = sb
		}
		switch {
		case eject != nil:
			diags = append(diags, errAt(sb.TypeRange, "Step after eject",
				fmt.Sprintf("step %q comes after step \"eject\" (at %s); eject must be the last step.", sb.Kind, eject.DeclRange)))
		case role == RoleLabel:
			// label may stand anywhere after mkfs; checked below.
		case role < maxRole:
			diags = append(diags, errAt(sb.TypeRange, "Step out of order",
				fmt.Sprintf("step %q must come before step %q (at %s). Steps run in this order: wipe, partition, mkfs, copy, verify, eject; label anywhere after mkfs.",
					sb.Kind, maxStep.Kind, maxStep.DeclRange)))
		default:
			maxRole, maxStep = role, sb
		}
		if role == RoleEject {
			eject = sb
		}
	}
	need := func(role, before Role, why string) {
		sb, ok := first[role]
		if !ok {
			return
		}
		if b, ok := first[before]; !ok || b.Index > sb.Index {
			diags = append(diags, errAt(sb.TypeRange, fmt.Sprintf("Step %q needs a %s step before it", sb.Kind, before), why))
		}
	}
	need(RoleFilesystem, RolePartition, `mkfs needs a partition step before it. For a filesystem on the whole stick (superfloppy) write step "partition" { table = "none" }.`)
	need(RoleCopy, RoleFilesystem, `copy needs a filesystem: add step "mkfs" { type = "vfat" } before it.`)
	need(RoleLabel, RoleFilesystem, `label needs a filesystem: add step "mkfs" before it.`)
	if v, ok := first[RoleVerify]; ok && !l.writesBefore(p, v) {
		diags = append(diags, errAt(v.TypeRange, fmt.Sprintf("Step %q needs a %s step before it", v.Kind, RolePartition),
			`verify reads back what the profile wrote, but this profile writes nothing before it: add partition, mkfs and copy steps.`))
	}
	if diags.HasErrors() {
		return diags
	}

	// Check each step, then fuse the layout steps into one write stage.
	var layout *WriteSpec
	var write *Stage
	for _, sb := range p.Steps {
		cc := &CheckContext{Config: cfg, Profile: p, Block: sb, skipContent: l.SkipContent}
		diags = append(diags, sb.Step.Check(cc)...)
		kind := l.Registry.Kinds[sb.Kind]
		if kind.Role.Fused() {
			if layout == nil {
				layout = &WriteSpec{}
				write = &Stage{Name: "write"}
				p.Stages = append(p.Stages, write)
			}
			c, ok := sb.Step.(Contributor)
			if !ok {
				panic(fmt.Sprintf("step kind %q has a fused role but does not implement Contributor", sb.Kind))
			}
			diags = append(diags, c.Contribute(layout, cc)...)
			layout.Steps = append(layout.Steps, sb)
			write.Steps = append(write.Steps, sb)
			write.Timeout = minTimeout(write.Timeout, sb.Meta.Timeout)
			write.Retries = max(write.Retries, sb.Meta.Retries)
			continue
		}
		r, ok := sb.Step.(Runner)
		if !ok {
			panic(fmt.Sprintf("step kind %q is neither fused nor a Runner", sb.Kind))
		}
		p.Stages = append(p.Stages, &Stage{Name: sb.Kind, Steps: []*StepBlock{sb}, Runner: r, Timeout: sb.Meta.Timeout, Retries: sb.Meta.Retries})
	}
	if layout != nil {
		p.Write = layout
		if l.Registry.Fuse != nil {
			write.Runner = l.Registry.Fuse(layout)
		}
		if l.Registry.LabelRules != nil {
			diags = append(diags, cfg.checkLabel(layout.Label, layout.FS, l.Registry.LabelRules)...)
		}
		if _, ok := first[RoleVerify]; !ok {
			diags = append(diags, noVerifyWarning(p))
		}
	}
	return diags
}

// noVerifyWarning warns about a profile that writes sticks without reading
// them back: its sticks end "unverified", never done. A profile that
// writes nothing a verify step could read (wipe only) is not warned about.
func noVerifyWarning(p *Profile) *hcl.Diagnostic {
	kinds := make([]string, len(p.Steps))
	for i, sb := range p.Steps {
		kinds[i] = sb.Kind
	}
	return warnAt(p.DeclRange, "Profile does not verify",
		fmt.Sprintf("profile %q runs %s but no verify step, so nothing it writes is read back: its sticks end \"unverified\" (written, not read back) in receipts, logs and on the board, never \"done\". Add step \"verify\" {} after the last copy or label step.",
			p.Name, strings.Join(kinds, ", ")))
}

// minTimeout returns the smaller of two timeouts, where 0 means none.
func minTimeout(a, b time.Duration) time.Duration {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

// writesBefore reports whether a step of the write stage (partition, mkfs,
// copy, label) comes before sb. A profile whose mkfs lacks its partition
// step does write: that mistake has an error of its own, and verify's
// would be false.
func (l *Loader) writesBefore(p *Profile, sb *StepBlock) bool {
	for _, s := range p.Steps[:sb.Index] {
		if l.Registry.Kinds[s.Kind].Role.Fused() {
			return true
		}
	}
	return false
}
