package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/flashpipe/flashpipe/fsimage/compile"
	"github.com/flashpipe/flashpipe/fsimage/manifest"
	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/flashpipe/flashpipe/units"
	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
)

func newValidateCmd() *cobra.Command {
	var lo loadOptions
	var legacy legacyFlags
	var format string
	var strict bool
	cmd := &cobra.Command{
		Use:   "validate [FILE|DIR... | -c DIR [-x EXT] [--label L] [-n N]]",
		Short: "Check station files: exit 0 when clean, 1 with every problem",
		Long: `validate loads station files (or builds the implicit profile from the original
tool's flags) as the station would and reports every problem as file:line:col
with a source snippet. Per-device expressions are type-checked with an unknown
device, so a typo such as device.serail fails here, not when a stick is
inserted; labels are checked against the filesystem's rules for job numbers up
to 999999. Content paths must exist and the content must fit the smallest
stick a profile takes, unless --skip-content. Warnings do not fail unless
--strict.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, cfg, diags, err := loadOrLegacy(&lo, &legacy, args, true)
			if err != nil {
				return err
			}
			if cfg != nil && !diags.HasErrors() && !lo.skipContent {
				diags = append(diags, legacy.pointAtFlags(checkContentFit(cmd.Context(), cfg))...)
			}
			failed := diags.HasErrors() || (strict && len(diags) > 0)
			out := cmd.OutOrStdout()
			switch format {
			case "json":
				if err := writeJSONDiags(out, diags, failed); err != nil {
					return err
				}
			case "text":
				printDiags(cmd.ErrOrStderr(), l, diags)
				if failed && !diags.HasErrors() {
					fmt.Fprintf(cmd.ErrOrStderr(), "flashpipe: --strict: failing on %d warning(s): %s\n", len(diags), warningList(diags))
				}
			default:
				return fmt.Errorf("--format %q: use text or json", format)
			}
			if failed {
				return exitError{1}
			}
			if format == "text" {
				writeValid(out, cfg, len(diags), legacy.active())
			}
			return nil
		},
	}
	lo.register(cmd)
	lo.registerSkipContent(cmd)
	legacy.register(cmd, false)
	legacy.registerImage(cmd)
	legacy.registerConcurrent(cmd, "sticks written at once (with -c)")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json (for CI annotations)")
	cmd.Flags().BoolVar(&strict, "strict", false, "fail on warnings too, naming them")
	return cmd
}

// writeValid prints validate's one line for a clean load.
func writeValid(w io.Writer, cfg *pipeline.Config, warnings int, flags bool) {
	if flags {
		fmt.Fprint(w, "flags valid: the implicit profile")
	} else {
		fmt.Fprintf(w, "%d file(s) valid: %d profile(s)", len(cfg.Files), len(cfg.Profiles))
	}
	if warnings > 0 {
		fmt.Fprintf(w, ", %d warning(s)", warnings)
	}
	fmt.Fprintln(w)
}

// warningList names each warning with where it is, for --strict.
func warningList(diags hcl.Diagnostics) string {
	var parts []string
	for _, d := range diags {
		s := d.Summary
		if d.Subject != nil {
			s += fmt.Sprintf(" (%s:%d)", d.Subject.Filename, d.Subject.Start.Line)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// jsonDiag is one diagnostic in validate --format json.
type jsonDiag struct {
	Severity  string `json:"severity"`
	Summary   string `json:"summary"`
	Detail    string `json:"detail,omitempty"`
	Filename  string `json:"filename,omitempty"`
	Line      int    `json:"line,omitempty"`
	Column    int    `json:"column,omitempty"`
	EndLine   int    `json:"end_line,omitempty"`
	EndColumn int    `json:"end_column,omitempty"`
}

// writeJSONDiags writes validate --format json: valid is false whenever
// validate fails (errors, or warnings with --strict).
func writeJSONDiags(w io.Writer, diags hcl.Diagnostics, failed bool) error {
	out := struct {
		Valid       bool       `json:"valid"`
		Errors      int        `json:"error_count"`
		Warnings    int        `json:"warning_count"`
		Diagnostics []jsonDiag `json:"diagnostics"`
	}{Diagnostics: []jsonDiag{}}
	for _, d := range diags {
		jd := jsonDiag{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
			out.Warnings++
		} else {
			out.Errors++
		}
		if d.Subject != nil {
			jd.Filename = d.Subject.Filename
			jd.Line, jd.Column = d.Subject.Start.Line, d.Subject.Start.Column
			jd.EndLine, jd.EndColumn = d.Subject.End.Line, d.Subject.End.Column
		}
		out.Diagnostics = append(out.Diagnostics, jd)
	}
	out.Valid = !failed
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// checkContentFit fails validate when a profile's content cannot be read,
// does not fit the smallest stick its match admits, or fails to lay out at
// all (names the filesystem cannot hold, a 4 GiB file on FAT32). It skips
// a filesystem whose layout runs host programs (ext4's mke2fs): validate
// runs where station files are checked, which need not have them.
func checkContentFit(ctx context.Context, cfg *pipeline.Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, p := range cfg.Profiles {
		if p.Write == nil || runsTools(p.Write.FS) {
			continue
		}
		entries, err := steps.Content(ctx, p.Write, manifest.NewCache(), time.Now(), nil)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Content cannot be read",
				Detail: fmt.Sprintf("profile %q: %s. A station fails every job of this profile until this is fixed.", p.Name, err), Subject: p.DeclRange.Ptr()})
			continue
		}
		spec := steps.Spec(p.Write, entries, "", 1, time.Now())
		need, err := compile.MinDeviceSize(spec, 512)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Content cannot be laid out",
				Detail: fmt.Sprintf("profile %q: %s", p.Name, err), Subject: p.DeclRange.Ptr()})
			continue
		}
		if p.Match.MinSize > 0 && need > p.Match.MinSize {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Content does not fit the smallest matching stick",
				Detail: fmt.Sprintf("profile %q matches sticks from %s, but its content needs a stick of at least %s. Raise the match's minimum size or trim the content.",
					p.Name, units.Exact(p.Match.MinSize), units.Exact(need)),
				Subject: p.DeclRange.Ptr()})
		}
	}
	return diags
}

// runsTools reports whether laying out the filesystem called name runs
// host programs (fsimage.Filesystem.Tools).
func runsTools(name string) bool {
	fs, err := compile.Lookup(name)
	return err == nil && len(fs.Tools) > 0
}
