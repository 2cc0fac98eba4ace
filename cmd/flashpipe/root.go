package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// exitError carries an exit code out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// run is the whole program: it parses args, runs one command and returns
// the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(singleDashCheck(args))
	stopSignals := func() {}
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		if cmd.Name() != "run" {
			var sctx context.Context
			sctx, stopSignals = signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			cmd.SetContext(sctx)
		}
	}
	err := root.ExecuteContext(ctx)
	stopSignals()
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintln(stderr, "flashpipe:", err)
		return 2
	}
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "flashpipe",
		Short: "A USB stick duplication station",
		Long: `flashpipe takes newly inserted USB sticks, matches each to a profile, and
wipes, partitions, formats, fills, verifies (read back from the stick) and
ejects it, many at once, keeping a receipt for every stick.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newValidateCmd(),
		newPlanCmd(),
		newFmtCmd(),
		newBuildCmd(),
		newRunCmd(),
		newFlashCmd(),
		newDevicesCmd(),
		newReportCmd(),
		newDemoCmd(),
	)
	return root
}

// loadOptions are the flags every command that reads station files takes.
type loadOptions struct {
	vars        []string
	skipContent bool
}

func (o *loadOptions) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&o.vars, "var", nil, "set a declared variable: --var name=value (repeatable); lists, maps and objects in HCL syntax, e.g. --var 'ports=[\"1-1.1\"]'")
}

// registerSkipContent adds --skip-content, for the commands that only read
// the files (validate, plan): a station needs its content to start.
func (o *loadOptions) registerSkipContent(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.skipContent, "skip-content", false, "do not look at the content (source and copy paths, what fits on a stick): for CI of files whose content exists only on the stations")
}

// load reads the station files and writes diagnostics to stderr. It
// returns the loader (for rendering later diagnostics) and the config, or
// an exitError(1) when the files have errors.
func (o *loadOptions) load(args []string) (*pipeline.Loader, *pipeline.Config, hcl.Diagnostics, error) {
	l, err := o.loader()
	if err != nil {
		return nil, nil, nil, err
	}
	files, err := pipeline.ExpandPaths(args)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg, diags := l.LoadFiles(files)
	return l, cfg, diags, nil
}

// loader returns a loader with the --var values and the environment.
func (o *loadOptions) loader() (*pipeline.Loader, error) {
	l := pipeline.NewLoader(steps.Builtin())
	l.Env = os.Environ()
	l.SkipContent = o.skipContent
	l.Vars = map[string]string{}
	for _, kv := range o.vars {
		k, v, ok := cutEq(kv)
		if !ok {
			return nil, fmt.Errorf("--var %q: use --var name=value", kv)
		}
		l.Vars[k] = v
	}
	return l, nil
}

func cutEq(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			return s[:i], s[i+1:], i > 0
		}
	}
	return "", "", false
}

// printDiags renders diagnostics with source snippets.
func printDiags(w io.Writer, l *pipeline.Loader, diags hcl.Diagnostics) {
	if len(diags) == 0 {
		return
	}
	width, color := uint(0), false
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if wd, _, err := term.GetSize(int(f.Fd())); err == nil {
			width = uint(wd)
		}
		color = true
	}
	_ = l.WriteDiagnostics(w, diags, width, color)
}

// singleDashCheck lets `fmt -check` be written with one dash, as Terraform
// and Packer users do; POSIX flag parsing would read it as -c -h -e -c -k.
func singleDashCheck(args []string) []string {
	if len(args) == 0 || args[0] != "fmt" {
		return args
	}
	out := append([]string(nil), args...)
	for i, a := range out {
		if a == "-check" {
			out[i] = "--check"
		}
	}
	return out
}
