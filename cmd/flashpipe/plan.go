package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/units"
	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
)

func newPlanCmd() *cobra.Command {
	var lo loadOptions
	var legacy legacyFlags
	cmd := &cobra.Command{
		Use:   "plan [FILE|DIR... | -c DIR [-x EXT] [--label L] [-n N]]",
		Short: "Show each profile's match and its compiled steps",
		Long: `plan loads station files (or builds the implicit profile from the original
tool's flags) and prints, for each profile in routing order, what it matches
and the stages it compiles to. Steps the engine fuses into one sequential
write are shown as fused.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, cfg, err := loadChecked(cmd.ErrOrStderr(), &lo, &legacy, args, true)
			if err != nil {
				return err
			}
			writePlan(cmd.OutOrStdout(), l.Parser.Files(), cfg)
			return nil
		},
	}
	lo.register(cmd)
	lo.registerSkipContent(cmd)
	legacy.register(cmd, false)
	legacy.registerImage(cmd)
	legacy.registerConcurrent(cmd, "sticks written at once (with -c)")
	return cmd
}

func writePlan(w io.Writer, files map[string]*hcl.File, cfg *pipeline.Config) {
	st := cfg.Station
	fmt.Fprintf(w, "station %q: concurrency %d, buses %s, receipts %s\n", st.Name, st.Concurrency, strings.Join(st.AllowBuses, ","), st.Receipts)
	for i, p := range cfg.Profiles {
		at := p.DeclRange.String()
		if p.DeclRange.Filename == implicitFile {
			at = "the command line's flags"
		}
		fmt.Fprintf(w, "\nprofile %q (priority %d, routing order %d) from %s\n", p.Name, p.Priority, i+1, at)
		fmt.Fprintf(w, "  match: %s\n", describeMatch(p))
		for _, n := range p.Pools {
			b := cfg.Pools[n]
			fmt.Fprintf(w, "  pool:  each stick takes a row of %q (%d rows in %s; on_failure %s, receipts keep %s)\n", n, b.Rows, b.File, b.OnFailure, b.Record)
		}
		for n, s := range p.Stages {
			fmt.Fprintf(w, "  %d. %-7s", n+1, s.Name)
			if s.Fused() {
				var parts []string
				for _, sb := range s.Steps {
					parts = append(parts, sb.Kind)
				}
				fmt.Fprintf(w, " fused: %s", strings.Join(parts, " + "))
			}
			if s.Timeout > 0 {
				fmt.Fprintf(w, " (timeout %s)", s.Timeout)
			}
			if s.Retries > 0 {
				fmt.Fprintf(w, " (retries %d)", s.Retries)
			}
			fmt.Fprintln(w)
			for _, sb := range s.Steps {
				if d := describeStep(sb, p.Write, files); d != "" {
					fmt.Fprintf(w, "       %-9s %s\n", sb.DisplayName(), d)
				}
				if d := describeFit(sb, p); d != "" {
					fmt.Fprintf(w, "       %-9s %s\n", "", d)
				}
			}
			for _, sb := range s.Edits {
				fmt.Fprintf(w, "       + %-7s %s\n", sb.DisplayName(), describeStep(sb, p.Write, files))
			}
		}
	}
	if len(cfg.Profiles) == 0 {
		fmt.Fprintln(w, "\nno profiles: every stick would be left untouched")
	}
}

// describeFit says whether the sticks a profile matches are big enough for
// a step that needs a minimum size.
func describeFit(sb *pipeline.StepBlock, p *pipeline.Profile) string {
	n, ok := sb.Step.(pipeline.SizeNeeder)
	if !ok {
		return ""
	}
	need := n.MinStickSize()
	switch {
	case need < 0:
		return "needs sticks as large as the image, known once it is decompressed"
	case p.Match.MinSize <= 0:
		return fmt.Sprintf("needs sticks of at least %s; the match admits any size, so smaller sticks fail", units.Exact(need))
	case need > p.Match.MinSize:
		return fmt.Sprintf("needs sticks of at least %s; the match admits sticks from %s: too small", units.Exact(need), units.Exact(p.Match.MinSize))
	}
	return fmt.Sprintf("needs sticks of at least %s; every stick the match admits (from %s) is big enough", units.Exact(need), units.Exact(p.Match.MinSize))
}

func describeMatch(p *pipeline.Profile) string {
	if p.MatchSrc == nil || len(p.MatchSrc.Text) == 0 {
		return "any stick on an allowed bus"
	}
	var keys []string
	for k := range p.MatchSrc.Text {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		part := fmt.Sprintf("%s = %s", k, p.MatchSrc.Text[k])
		if k == "size" {
			// The bounds it resolves to, in the units it was written in:
			// size = "~8GB" (7.2 GB .. 8.1 GB).
			part += " (" + p.MatchSrc.SizeRange.String() + ")"
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}

// describeStep summarises one step's settings for plan output: what the
// step's kind says about it (pipeline.Describer), or nothing.
func describeStep(sb *pipeline.StepBlock, w *pipeline.WriteSpec, files map[string]*hcl.File) string {
	d, ok := sb.Step.(pipeline.Describer)
	if !ok {
		return ""
	}
	return d.Describe(w, func(e hcl.Expression) string { return exprText(e, files) })
}

func exprText(e hcl.Expression, files map[string]*hcl.File) string {
	r := e.Range()
	if f, ok := files[r.Filename]; ok {
		return string(r.SliceBytes(f.Bytes))
	}
	return "(expression)"
}
