package main

import (
	"fmt"
	"io"
	"os"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/flashpipe/flashpipe/steps"
	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
)

// How commands read their configuration: station files (loadOptions.load),
// or, with the original tool's -c, the implicit profile (legacy.go);
// loadOrLegacy picks one and loadChecked stops on errors.

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

// load reads the station files and directories in args. It returns the
// loader (which renders the diagnostics, with snippets), the config and
// the diagnostics, and prints nothing: loadChecked prints them and turns
// errors into exit status 1. The error is for what stops it before any
// file is read: a --var without "=", or an argument that cannot be listed
// (missing, or a directory without *.hcl files).
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

// loadOrLegacy loads the files in args, or, with -c, the implicit profile,
// whose diagnostics then point at the flags. legacy is nil for a command
// without the original tool's flags. eject says whether the implicit
// profile ends with an eject step (not for image files).
func loadOrLegacy(lo *loadOptions, legacy *legacyFlags, args []string, eject bool) (*pipeline.Loader, *pipeline.Config, hcl.Diagnostics, error) {
	if legacy != nil {
		if err := legacy.checkConcurrent(); err != nil {
			return nil, nil, nil, err
		}
		if legacy.active() {
			if len(args) > 0 {
				return nil, nil, nil, fmt.Errorf("give either station files, or -c PATH or --image FILE, not both")
			}
			if len(lo.vars) > 0 {
				return nil, nil, nil, fmt.Errorf("--var sets a variable of station files; the implicit profile of -c or --image declares none")
			}
			return legacy.load(lo.skipContent, eject)
		}
	}
	if len(args) == 0 {
		return nil, nil, nil, fmt.Errorf("give station files (FILE.hcl or a directory), -c PATH for the implicit profile, or --image FILE")
	}
	return lo.load(args)
}

// loadChecked is loadOrLegacy for commands that go on only with a clean
// config: it prints the diagnostics to stderr and turns errors into exit
// status 1.
func loadChecked(stderr io.Writer, lo *loadOptions, legacy *legacyFlags, args []string, eject bool) (*pipeline.Loader, *pipeline.Config, error) {
	l, cfg, diags, err := loadOrLegacy(lo, legacy, args, eject)
	if err != nil {
		return nil, nil, err
	}
	printDiags(stderr, l, diags)
	if diags.HasErrors() {
		return nil, nil, exitError{1}
	}
	return l, cfg, nil
}
