package main

import (
	"io"
	"os"
	"time"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/printable"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"
)

// What several commands write for the operator: diagnostics, log lines,
// and whether they write to a terminal.

// printDiags renders diagnostics with source snippets, in colour and
// wrapped to the width on a terminal. Summaries and details name content
// files and devices: their control characters are escaped, line by line.
func printDiags(w io.Writer, l *pipeline.Loader, diags hcl.Diagnostics) {
	if len(diags) == 0 {
		return
	}
	diags = printableDiags(diags)
	width, color := uint(0), false
	if isTerminal(w) {
		if wd, _, err := term.GetSize(int(w.(*os.File).Fd())); err == nil {
			width = uint(wd)
		}
		color = true
	}
	_ = l.WriteDiagnostics(w, diags, width, color)
}

// printableDiags returns a copy of diags whose summaries and details are
// escaped for a terminal (printable.String), keeping the details' lines.
func printableDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	out := make(hcl.Diagnostics, len(diags))
	for i, d := range diags {
		c := *d
		c.Summary, c.Detail = printable.String(c.Summary), printable.Lines(c.Detail)
		out[i] = &c
	}
	return out
}

// newLogger returns the log of a command that runs jobs (run, flash, demo).
func newLogger(w io.Writer, level, format string) hclog.Logger {
	log := hclog.New(&hclog.LoggerOptions{
		Name: "flashpipe", Output: w, Level: hclog.LevelFromString(level),
		JSONFormat: format == "json", TimeFormat: time.RFC3339,
	})
	if steps.TestHooks {
		log.Warn("test build (-tags testhooks): FLASHPIPE_TEST_BEFORE_VERIFY may run a program before every verify; never use this binary on a real station")
	}
	return log
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
