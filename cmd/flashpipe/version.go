package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit are set at link time by make build and make package
// (-ldflags "-X main.version=... -X main.commit=..."), from git describe
// and git rev-parse. They are variables, not constants: -X ignores
// constants silently.
var (
	version = ""
	commit  = ""
)

// buildInfo returns the version and commit this binary was built from:
// those set at link time; else what the Go toolchain recorded (the module
// version of a go install, the VCS revision of a build in a checkout);
// else "devel" and "unknown".
func buildInfo() (v, c string) {
	v, c = version, commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if c == "" && s.Key == "vcs.revision" {
				c = s.Value
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	if c == "" {
		c = "unknown"
	}
	return v, c
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print flashpipe's version, the commit it was built from and its Go version",
		Long: `version prints the version flashpipe was built as (git describe of its
source, set by make build and the Debian package; "devel" for a plain go
build), the commit, and the Go version, OS and architecture it was built
with.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, c := buildInfo()
			fmt.Fprintf(cmd.OutOrStdout(), "flashpipe %s\ncommit    %s\ngo        %s %s/%s\n", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
